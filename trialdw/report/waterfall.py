"""Waterfall plot: best % change from baseline in the target-lesion sum of
diameters (SOD), one bar per subject, coloured by confirmed best response.

Source: dbt's intermediate.int_tr_target_sums (SOD per post-baseline
assessment and the baseline SOD), so the report uses the same sums as the
warehouse's RECIST derivation. Choices (docs/report.md):
- subjects: EFFFL = Y (measurable disease at baseline) with a baseline SOD > 0;
- assessments: only those where every baseline target lesion was measured
  (a partial sum would look like shrinkage), on or before the subject's first
  PD (the ADRS ANL01FL window: after progression the best change is not a
  response);
- best change = the smallest (most negative) % change; subjects with no such
  assessment are counted in the caption, not drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .response_colours import RESPONSE_COLOURS, RESPONSE_NAMES, RESPONSE_ORDER
from .svg import report_style, to_inline_svg


def best_percent_change(target_sums: pd.DataFrame, adsl: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    """USUBJID, BEST_PCHG (%), CBOR — one row per subject drawn, sorted for the plot
    (largest increase first, best shrinkage last)."""
    if target_sums is None or target_sums.empty or adsl.empty:
        return pd.DataFrame(columns=["USUBJID", "BEST_PCHG", "CBOR"])
    efficacy = set(adsl.loc[adsl["EFFFL"] == "Y", "USUBJID"])
    sums = target_sums[
        target_sums["USUBJID"].isin(efficacy) & (target_sums["N_MEASURED"] == target_sums["N_TARGET"])
    ].copy()
    sums["SOD"] = sums["SOD"].astype(float)
    sums["BASE_SOD"] = sums["BASE_SOD"].astype(float)
    sums = sums[sums["BASE_SOD"] > 0]
    first_pd = _first_date(adrs, "PD", "Y")
    sums = sums.merge(first_pd.rename("PD_DATE"), left_on="USUBJID", right_index=True, how="left")
    sums = sums[sums["PD_DATE"].isna() | (sums["ADT"] <= sums["PD_DATE"])]
    sums["PCHG"] = 100 * (sums["SOD"] - sums["BASE_SOD"]) / sums["BASE_SOD"]
    best = sums.groupby("USUBJID")["PCHG"].min().rename("BEST_PCHG").reset_index()
    cbor = _by_subject(adrs, "CBOR")
    best["CBOR"] = best["USUBJID"].map(cbor).fillna("NE")
    return best.sort_values(["BEST_PCHG", "USUBJID"], ascending=[False, True]).reset_index(drop=True)


def _by_subject(adrs: pd.DataFrame, paramcd: str) -> pd.Series:
    if adrs.empty:
        return pd.Series(dtype=object)
    rows = adrs[adrs["PARAMCD"] == paramcd]
    return rows.drop_duplicates("USUBJID").set_index("USUBJID")["AVALC"]


def _first_date(adrs: pd.DataFrame, paramcd: str, avalc: str) -> pd.Series:
    if adrs.empty:
        return pd.Series(dtype="datetime64[ns]")
    rows = adrs[(adrs["PARAMCD"] == paramcd) & (adrs["AVALC"] == avalc) & adrs["ADT"].notna()]
    return rows.groupby("USUBJID")["ADT"].min()


def _bars(ax, x: np.ndarray, heights: np.ndarray, colours: list[str], width: float = 0.8) -> None:
    """One bar per subject, as ``ax.bar`` draws them, but as one PolyCollection:
    ax.bar makes a Rectangle artist per bar, and matplotlib's cost is per
    artist (a 1,000-subject waterfall: ~0.7 s, most of its page's time)."""
    from matplotlib.collections import PolyCollection

    left, right = x - width / 2, x + width / 2
    zero = np.zeros_like(heights)
    corners = [(left, zero), (left, heights), (right, heights), (right, zero)]
    corners = np.stack([np.column_stack(corner) for corner in corners], 1)  # (bars, 4, 2)
    # zorder 1 = a bar's (Rectangle) default: drawn where ax.bar put them, under the lines.
    ax.add_collection(PolyCollection(corners, facecolors=colours, edgecolors="white", linewidths=0.3, zorder=1))


@report_style
def waterfall_svg(best: pd.DataFrame, fig_id: str) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = len(best)
    fig, ax = plt.subplots(figsize=(max(6.0, min(11.0, 2.5 + 0.12 * n)), 3.8))
    x = np.arange(n)
    colours = [RESPONSE_COLOURS.get(r, RESPONSE_COLOURS["NE"]) for r in best["CBOR"]]
    _bars(ax, x, best["BEST_PCHG"].to_numpy(float), colours)
    ax.axhline(0, color="#333333", linewidth=0.8)
    for level, text in ((20, "+20 %"), (-30, "−30 %")):
        ax.axhline(level, color="#777777", linewidth=0.7, linestyle=(0, (4, 3)))
        ax.text(n - 0.5 if n else 0, level, f" {text}", va="center", ha="left", fontsize=7, color="#555555")
    ax.set_xticks([])
    ax.set_xlim(-0.8, max(n, 1) - 0.2)
    ax.set_ylabel("Best change from baseline in SOD (%)")
    ax.set_xlabel(f"Subjects with measurable disease and a complete post-baseline assessment (n = {n})")
    ax.set_title("Best percentage change in target-lesion sum of diameters")
    shown = [r for r in RESPONSE_ORDER if r in set(best["CBOR"])]
    # Lower left: bars there point upwards (largest increase first), so it is empty.
    ax.legend(
        handles=[Patch(color=RESPONSE_COLOURS[r], label=f"{r} – {RESPONSE_NAMES[r]}") for r in shown],
        title="Confirmed best response",
        title_fontsize=8,
        fontsize=8,
        loc="lower left",
    )
    low = min(-100.0, float(best["BEST_PCHG"].min()) if n else 0.0)
    high = max(40.0, float(best["BEST_PCHG"].max()) if n else 0.0)
    ax.set_ylim(low - 5, high + 10)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    return to_inline_svg(fig, fig_id)
