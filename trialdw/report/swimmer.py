"""Swimmer plot: time on treatment per dosed subject, with response and death.

One lane per SAFFL subject, longest treatment at the top. A lane per subject
stops being readable (and a figure stops rendering in seconds) long before a
large study's 2,000 subjects, so at most MAX_LANES lanes are drawn: the
subjects longest on treatment (what a swimmer plot is read for: durable
treatment and response); the caption says how many are not shown. The bar runs from
TRTSDT (0) to TRTEDT; an arrow at its end means treatment is ongoing (ADSL
EOTSTT = ONGOING). Markers, placed on the same "months since first dose" axis
(days − TRTSDT, / 30.4375), may lie beyond the bar (follow-up after the last
dose):
- first CR and first PR: ADRS OVR, ANL01FL = Y (the investigator's response
  after the study's CR marker rule, within the analysis window);
- PD: ADRS PD (the first progression);
- death: ADSL DTHDT.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .response_colours import RESPONSE_COLOURS
from .svg import plain, report_style, to_inline_svg

DAYS_PER_MONTH = 30.4375
MAX_LANES = 60
BAR_COLOUR = "#a9bfd3"
MARKERS = {  # column → (legend label, marker, colour, size)
    "FIRST_PR": ("First PR", "^", RESPONSE_COLOURS["PR"], 36),
    "FIRST_CR": ("First CR", "*", RESPONSE_COLOURS["CR"], 70),
    "PD": ("Progression", "s", RESPONSE_COLOURS["PD"], 26),
    "DEATH": ("Death", "X", "#222222", 40),
}


def _months(dates: pd.Series, start: pd.Series) -> pd.Series:
    return (pd.to_datetime(dates) - pd.to_datetime(start)).dt.days / DAYS_PER_MONTH


def drawn_lanes(lanes: pd.DataFrame, limit: int = MAX_LANES) -> pd.DataFrame:
    """The lanes drawn: the ``limit`` longest on treatment (ties: USUBJID), still
    sorted shortest first (the longest at the top)."""
    return lanes.tail(limit).reset_index(drop=True) if len(lanes) > limit else lanes


def swimmer_lanes(adsl: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    """One row per dosed subject: SUBJID, USUBJID, END (months on treatment),
    ONGOING, FIRST_PR, FIRST_CR, PD, DEATH (months, NaN when none); sorted for
    the plot (shortest first, so the longest is drawn at the top)."""
    cols = ["USUBJID", "SUBJID", "END", "ONGOING", *MARKERS]
    if adsl.empty:
        return pd.DataFrame(columns=cols)
    lanes = adsl[(adsl["SAFFL"] == "Y") & adsl["TRTSDT"].notna()].copy()
    lanes["END"] = _months(lanes["TRTEDT"].fillna(lanes["TRTSDT"]), lanes["TRTSDT"])
    lanes["ONGOING"] = lanes["EOTSTT"] == "ONGOING"
    ovr = adrs[(adrs["PARAMCD"] == "OVR") & (adrs["ANL01FL"] == "Y")] if not adrs.empty else adrs
    firsts = {
        "FIRST_PR": ovr[ovr["AVALC"] == "PR"] if not ovr.empty else ovr,
        "FIRST_CR": ovr[ovr["AVALC"] == "CR"] if not ovr.empty else ovr,
        "PD": adrs[(adrs["PARAMCD"] == "PD") & (adrs["AVALC"] == "Y")] if not adrs.empty else adrs,
    }
    for column, rows in firsts.items():
        first = rows.groupby("USUBJID")["ADT"].min() if not rows.empty else pd.Series(dtype=object)
        lanes[column] = _months(lanes["USUBJID"].map(first), lanes["TRTSDT"])
    lanes["DEATH"] = _months(lanes["DTHDT"], lanes["TRTSDT"])
    return lanes.sort_values(["END", "USUBJID"], ascending=[True, False])[cols].reset_index(drop=True)


@report_style
def swimmer_svg(lanes: pd.DataFrame, fig_id: str) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(lanes)
    fig, ax = plt.subplots(figsize=(7.6, max(2.5, 0.9 + 0.19 * n)))
    y = np.arange(n)
    ax.barh(y, lanes["END"], height=0.62, color=BAR_COLOUR, edgecolor="none")
    ongoing = lanes[lanes["ONGOING"]]
    ax.plot(
        ongoing["END"] + 0.15,
        y[lanes["ONGOING"].to_numpy()],
        linestyle="none",
        marker=">",
        markersize=5,
        color="#1f5f8b",
    )
    for column, (_label, marker, colour, size) in MARKERS.items():
        has = lanes[column].notna().to_numpy()
        ax.scatter(
            lanes.loc[has, column],
            y[has],
            marker=marker,
            s=size,
            color=colour,
            edgecolors="white",
            linewidths=0.4,
            zorder=3,
        )
    ax.set_yticks(y)
    ax.set_yticklabels([plain(s) for s in lanes["SUBJID"].fillna(lanes["USUBJID"])], fontsize=7 if n <= 60 else 5)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlim(left=0)
    ax.set_xlabel("Months since first dose")
    ax.set_ylabel("Subject")
    ax.set_title("Treatment duration and response (dosed subjects)")
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    handles = [
        Patch(color=BAR_COLOUR, label="On treatment"),
        Line2D([], [], linestyle="none", marker=">", color="#1f5f8b", label="Treatment ongoing"),
    ]
    handles += [
        Line2D([], [], linestyle="none", marker=m, color=c, markersize=7, label=lbl)
        for lbl, m, c, _ in MARKERS.values()
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    return to_inline_svg(fig, fig_id)
