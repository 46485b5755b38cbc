"""matplotlib figures → inline SVG that is safe to paste into an HTML page.

Why SVG and not PNG: crisp at any zoom and when printed, and the text stays
text (subject ids, axis labels can be found with the browser's search).
matplotlib's SVG is a standalone XML document, so before inlining it:
- the XML declaration, DOCTYPE and metadata go (the DOCTYPE names a DTD by
  http URL; nothing is fetched, but a page with no URLs at all is easier to
  check), and so do the xmlns attributes (HTML5 does not need them);
- every id gets a per-figure prefix: matplotlib names elements ``figure_1``,
  ``axes_1``… in each document, which would collide between figures on one
  page (clip paths are referenced by id, so a collision can clip the wrong plot).
Text is emitted as <text> (svg.fonttype none); matplotlib escapes it for XML.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

FONT_STACK = ["DejaVu Sans", "Helvetica", "Arial", "sans-serif"]
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "trialdw",  # stable ids → byte-identical reports for identical data
    "font.family": "sans-serif",
    "font.sans-serif": FONT_STACK,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
}

_TAG = re.compile(r"<[^<>]+>")  # rewrites touch tags only, never data text between them
_ID = re.compile(r'(\sid=")([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


def plain(text) -> str:
    """Data text for a matplotlib label: '$' would otherwise start mathtext."""
    return str(text).replace("$", r"\$")


def _prefixed_ids(tag: str, prefix: str) -> str:
    tag = tag.replace("xlink:href=", "href=")  # SVG 2 spelling: no namespace needed
    tag = _ID.sub(lambda m: f'{m.group(1)}{prefix}-{m.group(2)}"', tag)
    return _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", tag)


def to_inline_svg(fig, prefix: str, raster_dpi: int | None = None) -> str:
    """Serialise and close `fig`; return an <svg> element for inlining.
    ``raster_dpi``: the resolution of artists drawn rasterized (a dense layer
    embedded as a PNG; everything else stays vector)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches="tight",
        **({"dpi": raster_dpi} if raster_dpi else {}),
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    root_end = svg.index(">") + 1
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg[:root_end]) + svg[root_end:]
    svg = _TAG.sub(lambda tag: _prefixed_ids(tag.group(0), prefix), svg)
    return svg.replace("<svg", f'<svg role="img" aria-labelledby="{prefix}-caption"', 1).strip()


def report_style(plot):
    """Decorator: draw and serialise a figure under the report's rcParams only
    (rc_context, so other matplotlib users in the process are unaffected;
    some settings are read at savefig time, so the whole call is inside)."""
    import functools

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)

    return wrapper
