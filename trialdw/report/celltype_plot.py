"""Cell-type proportions before and on treatment: a paired (spaghetti) panel
per cell type from adam.adcp, with the subjects' median drawn bold.

The pairs are the ones analysis.celltype_change tested: the pairing rule is
``trialdw.endpoints.singlecell.pairs`` (baseline BASE vs the earliest ON
TREATMENT sample), reused here so plot and table cannot disagree.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .formatting import p_value
from .svg import plain, report_style, to_inline_svg

LINE_COLOUR = "#8aa1b5"
MEDIAN_COLOUR = "#b2182b"
# From this many subjects in a panel, its subject lines and dots are drawn as
# one embedded image (at RASTER_DPI, sharp in print) instead of one SVG element
# per dot: a 960-subject figure was 3.6 MB of SVG and ~1.2 s to write, now
# ~0.2 MB and ~1.0 s. Axes, medians and text stay vector; a small study's
# figure stays vector throughout.
RASTER_FROM = 200
RASTER_DPI = 200


def celltype_pairs(adcp: pd.DataFrame) -> pd.DataFrame:
    """USUBJID, PARAMCD, PARAM, BASE, AVAL — one row per subject × cell type."""
    from trialdw.endpoints.singlecell import pairs

    if adcp.empty:
        return pd.DataFrame(columns=["USUBJID", "PARAMCD", "PARAM", "BASE", "AVAL"])
    return pairs(adcp, "CPREFID", ["PARAMCD"])[["USUBJID", "PARAMCD", "PARAM", "BASE", "AVAL"]]


def _subject_lines(ax, base: np.ndarray, post: np.ndarray) -> None:
    """One line per subject from baseline (x 0) to on treatment (x 1), dots at both
    ends. Drawn as one LineCollection and one marker-only line, not a Line2D per
    subject: a study of 1,000 subjects has ~8,000 of them and matplotlib's cost is
    per artist (it was most of the report step's time). From RASTER_FROM
    subjects both are rasterized."""
    from matplotlib.collections import LineCollection

    if not len(base):
        return
    segments = np.stack([np.column_stack([np.zeros_like(base), base]), np.column_stack([np.ones_like(post), post])], 1)
    # zorder 2 = a Line2D's (a collection's default is 1): the lines sit where ax.plot put them
    dense = len(base) >= RASTER_FROM
    lines = LineCollection(segments, colors=LINE_COLOUR, linewidths=0.8, alpha=0.8, zorder=2, rasterized=dense)
    ax.add_collection(lines)
    ends_x = np.tile([0.0, 1.0], len(base))
    ends_y = np.column_stack([base, post]).ravel()
    ax.plot(
        ends_x, ends_y, linestyle="none", color=LINE_COLOUR, marker="o", markersize=2.5, alpha=0.8, rasterized=dense
    )


@report_style
def celltype_svg(paired: pd.DataFrame, change: pd.DataFrame, fig_id: str) -> str:
    import matplotlib.pyplot as plt

    codes = sorted(paired["PARAMCD"].unique())
    ncols = min(4, len(codes))
    nrows = math.ceil(len(codes) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols + 0.6, 2.3 * nrows), squeeze=False)
    p_by_code = dict(zip(change.get("CPTESTCD", []), change.get("P_WILCOXON", []), strict=False))
    for ax, code in zip(axes.flat, codes, strict=False):
        panel = paired[paired["PARAMCD"] == code]
        base, post = 100 * panel["BASE"].to_numpy(float), 100 * panel["AVAL"].to_numpy(float)
        _subject_lines(ax, base, post)
        ax.plot(
            [0, 1],
            [np.median(base), np.median(post)],
            color=MEDIAN_COLOUR,
            linewidth=2.2,
            marker="o",
            markersize=4,
            zorder=3,
        )
        name = panel["PARAM"].iloc[0] if panel["PARAM"].notna().any() else code
        ax.set_title(plain(name), fontsize=8.5, loc="center")
        p = p_value(p_by_code.get(code))
        p = f"p {p}" if p.startswith("<") else f"p = {p}"
        ax.text(
            0.5,
            0.98,
            f"n = {len(panel)}, {p}",
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=7,
            color="#444444",
        )
        ax.set_xticks([0, 1], ["Baseline", "On treatment"], fontsize=7.5)
        ax.set_xlim(-0.25, 1.25)
        top = max(base.max(), post.max()) if len(panel) else 1.0
        ax.set_ylim(0, top * 1.22)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.flat[len(codes) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("% of cells in sample")
    fig.suptitle(
        "Cell-type proportions, baseline vs on treatment (red: median)",
        x=0.01,
        ha="left",
        fontsize=10,
        fontweight="bold",
    )
    fig.tight_layout()
    return to_inline_svg(fig, fig_id, raster_dpi=RASTER_DPI)
