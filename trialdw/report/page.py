"""Assembling the self-contained HTML pages (inline CSS and SVG, no scripts,
nothing fetched: the Content-Security-Policy forbids any request, so a stray
URL could not load even if one slipped in)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .data import POPULATION_FLAGS, StudyListing, StudyReportData
from .formatting import missing
from .tables import esc

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem 2rem 3rem; line-height: 1.4; font-size: 14px; }
header { border-bottom: 2px solid #1f5f8b; margin-bottom: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; color: #1f5f8b; }
h1 .sub { display: block; font-size: 1rem; font-weight: normal; color: #333; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .9rem; }
dl.meta dt { color: #555; } dl.meta dd { margin: 0; }
nav { font-size: .9rem; } nav a { margin-right: 1rem; }
a { color: #1f5f8b; }
figure { margin: 1rem 0 1.5rem; } figure svg { width: 100%; max-width: 860px; height: auto; display: block; }
figure#fig-swimmer svg, figure#fig-celltype svg { max-width: 980px; }
figcaption { font-size: .85rem; color: #444; margin-top: .3rem; }
table { border-collapse: collapse; margin: .8rem 0 1.5rem; font-size: .85rem; width: 100%; }
caption { caption-side: top; text-align: left; font-size: .85rem; color: #444; padding-bottom: .3rem; }
p.table-caption { font-size: .85rem; color: #444; margin: .8rem 0 .3rem; }
th, td { padding: .25rem .5rem; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; background: #f5f7f9; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .8rem; color: #555; }
tr.soc td { font-weight: bold; background: #fafafa; }
td.pt { padding-left: 1.5rem; }
.absent { color: #8a4b00; background: #fff6e5; border-left: 3px solid #e0a040; padding: .4rem .7rem; }
footer { margin-top: 2.5rem; font-size: .8rem; color: #666; border-top: 1px solid #ddd; padding-top: .5rem; }
"""


def document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def figure(fig_id: str, svg: str | None, caption: str, absent: str = "") -> str:
    """A plot with its caption, or — when there is nothing to plot — a visible
    note saying why (never an empty frame that looks like a finished plot)."""
    if svg is None:
        return f'<p class="absent" id="{fig_id}">{esc(absent)}</p>'
    return f'<figure id="{fig_id}">{svg}<figcaption id="{fig_id}-caption">{caption}</figcaption></figure>'


def _timestamp(value) -> str:
    if missing(value):
        return ""
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def data_as_of(transfers: pd.DataFrame) -> str:
    """One line per site: its current transfer, when the site exported it and
    when the warehouse received it."""
    if transfers.empty:
        return "no accepted transfer"
    lines = []
    for _, t in transfers.iterrows():
        exported = f", exported {esc(t['EXPORTED_AT'])}" if not missing(t["EXPORTED_AT"]) else ""
        received = f", received {esc(_timestamp(t['RECEIVED_AT']))} UTC" if not missing(t["RECEIVED_AT"]) else ""
        lines.append(f"site {esc(t['SITEID'])}: transfer {esc(t['TRANSFER_ID'])}{exported}{received}")
    return "<br>".join(lines)


def population_counts(adsl: pd.DataFrame) -> str:
    if adsl.empty:
        return "no subjects"
    return ", ".join(
        f"{label} {int((adsl[flag] == 'Y').sum())}"
        for flag, label in zip(POPULATION_FLAGS, ("ITT", "safety", "efficacy-evaluable"), strict=True)
    )


def header(data: StudyReportData, generated_at: dt.datetime, source_name: str) -> str:
    cutoff = esc(data.data_cutoff) if data.data_cutoff is not None else "none"
    return (
        f'<header><h1>{esc(data.study)}<span class="sub">{esc(data.title)}</span></h1>'
        '<dl class="meta">'
        f"<dt>Data as of</dt><dd>{data_as_of(data.transfers)}</dd>"
        f"<dt>Data cut-off</dt><dd>{cutoff}</dd>"
        f"<dt>Subjects</dt><dd>{esc(population_counts(data.adsl))}</dd>"
        f"<dt>Generated</dt><dd>{esc(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} "
        f"from {esc(source_name)}</dd></dl></header>"
    )


def index_page(studies: list[tuple[StudyListing, str]], generated_at: dt.datetime, lineage: str | None = None) -> str:
    """`studies`: (data, page file name) pairs; `lineage`: relative link to the dbt docs page, if any."""
    rows = "".join(
        f'<tr><td><a href="{esc(page)}">{esc(d.study)}</a></td><td>{esc(d.title)}</td>'
        f"<td>{esc(population_counts(d.adsl))}</td><td>{data_as_of(d.transfers)}</td></tr>"
        for d, page in studies
    )
    body = (
        "<header><h1>Study reports</h1></header>"
        '<table id="study-index"><thead><tr><th>Study</th><th>Title</th><th>Subjects</th>'
        f"<th>Data as of</th></tr></thead><tbody>{rows}</tbody></table>"
        + (
            f'<p id="lineage-link">Models, columns and lineage: <a href="{esc(lineage)}">dbt documentation</a>.</p>'
            if lineage
            else ""
        )
        + f"<footer>Generated {esc(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} by trialdw.</footer>"
    )
    return document("Study reports", body)
