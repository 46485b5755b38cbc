"""Kaplan–Meier plot with its 95 % CI band, censor ticks and a numbers-at-risk
table, from analysis.km_curves (one row per distinct time, in months).

The curve is the right-continuous step function: S(t) holds from a row's TIME
until the next row's TIME (``where='post'``); the band steps with it. A censor
tick sits on the curve at the censoring time (after that time's events, the
usual convention). The curve stops at the last observed time — KM says nothing
beyond follow-up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .formatting import ci_text
from .svg import report_style, to_inline_svg

TITLES = {"PFS": "Progression-free survival", "OS": "Overall survival", "DOR": "Duration of response"}
X_LABELS = {
    "PFS": "Months since first dose",
    "OS": "Months since enrolment",
    "DOR": "Months since first response (CR or PR)",
}
CURVE_COLOUR = "#1f5f8b"


def _censor_ticks(ax, curve, colour: str, label: str | None = None) -> None:
    """A tick on the curve at each time with a censored subject."""
    censored = curve[curve["CENSORED"] > 0]
    ax.plot(
        censored["TIME"],
        censored["SURVIVAL"],
        linestyle="none",
        marker="|",
        markersize=7,
        markeredgewidth=1.2,
        color=colour,
        label=label,
    )


def _median_line(ax) -> None:
    """The dashed S = 0.5 line the median is read from."""
    ax.axhline(0.5, color="#999999", linewidth=0.7, linestyle=(0, (4, 3)), zorder=0)


def risk_tick_step(max_months: float) -> int:
    """Tick spacing (months) giving 5-10 columns in the at-risk table."""
    for step in (1, 2, 3, 6):
        if max_months / step <= 10:
            return step
    return 12


def at_risk(curve: pd.DataFrame, times) -> list[int]:
    """Subjects still at risk at each time t: AT_RISK of the first curve row at or
    after t (nobody leaves between rows); 0 past the last row."""
    row_times = curve["TIME"].to_numpy(dtype=float)
    counts = curve["AT_RISK"].to_numpy(dtype=int)
    idx = np.searchsorted(row_times, np.asarray(times, dtype=float) - 1e-9, side="left")
    return [int(counts[i]) if i < len(counts) else 0 for i in idx]


def with_time_zero(curve: pd.DataFrame) -> pd.DataFrame:
    """The curve starts at (0, 1) even if the table has no row at time 0."""
    curve = curve.sort_values("TIME").reset_index(drop=True)
    if curve.empty or curve["TIME"].iloc[0] > 0:
        n = int(curve["AT_RISK"].iloc[0]) if not curve.empty else 0
        start = pd.DataFrame(
            [{"TIME": 0.0, "SURVIVAL": 1.0, "LCL": 1.0, "UCL": 1.0, "AT_RISK": n, "EVENTS": 0, "CENSORED": 0}]
        )
        curve = pd.concat([start, curve], ignore_index=True)
    return curve


def median_label(endpoint: pd.Series | None) -> str:
    if endpoint is None:
        return ""
    return f"Median {ci_text(endpoint, unit='months')}  ·  N = {int(endpoint['N'])}, {int(endpoint['N_EVENTS'])} events"


@report_style
def km_svg(paramcd: str, curve: pd.DataFrame, median_row: pd.Series | None, fig_id: str) -> str:
    import matplotlib.pyplot as plt

    curve = with_time_zero(curve)
    t = curve["TIME"].to_numpy(dtype=float)
    max_t = float(t.max()) if len(t) else 1.0
    step = risk_tick_step(max_t)
    ticks = np.arange(0, max_t + 1e-9, step)

    fig, (ax, risk_ax) = plt.subplots(2, 1, figsize=(7.2, 4.6), gridspec_kw={"height_ratios": [6, 1], "hspace": 0.42})
    ax.fill_between(
        t,
        curve["LCL"],
        curve["UCL"],
        step="post",
        color=CURVE_COLOUR,
        alpha=0.18,
        linewidth=0,
        label="95 % CI (log-log)",
    )
    ax.step(t, curve["SURVIVAL"], where="post", color=CURVE_COLOUR, linewidth=1.6, label="Kaplan–Meier estimate")
    _censor_ticks(ax, curve, CURVE_COLOUR, label="Censored")
    _median_line(ax)
    ax.set_ylim(0, 1.03)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_ylabel(f"{paramcd} probability")
    x_limits = (0, max(max_t, step) * 1.02)
    ax.set_xlim(*x_limits)
    ax.set_title(f"{TITLES.get(paramcd, paramcd)} ({paramcd})", pad=38)
    # Above the plot, in one row under the title: inside it would hide part of a curve or its band.
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=3,
        fontsize=8,
        title=median_label(median_row),
        title_fontsize=8.5,
        alignment="left",
        borderaxespad=0.3,
        handlelength=1.6,
    )
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)

    # Numbers-at-risk table: one text per tick, aligned with the x axis above
    # (same limits, not sharex, so the plot keeps its own tick labels).
    risk_ax.set_xlim(*x_limits)
    risk_ax.set_ylim(0, 1)
    risk_ax.set_yticks([])
    for spine in risk_ax.spines.values():
        spine.set_visible(False)
    risk_ax.tick_params(axis="x", length=0, labelbottom=False)
    risk_ax.set_title("Number at risk", fontsize=8, loc="left", pad=2)
    for i, (x, n) in enumerate(zip(ticks, at_risk(curve, ticks), strict=False)):
        # gid → <g id="…-at-risk-i">: the count at each tick can be found in the SVG
        risk_ax.text(x, 0.5, str(n), ha="center", va="center", fontsize=8, gid=f"at-risk-{i}")
    ax.set_xticks(ticks)
    ax.set_xlabel(X_LABELS.get(paramcd, "Months"))
    return to_inline_svg(fig, fig_id)


# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies
# and in greyscale by their different lightness; the first is the single-arm blue.
ARM_COLOURS = ("#1f5f8b", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
ARM_STYLES = ("solid", (0, (5, 2)), (0, (1, 1.5)), (0, (5, 2, 1, 2)), "solid", (0, (5, 2)))


def arm_median_label(name: str, endpoint: pd.Series | None) -> str:
    if endpoint is None:
        return name
    counts = f"N = {int(endpoint['N'])}, {int(endpoint['N_EVENTS'])} events"
    return f"{name}: median {ci_text(endpoint, unit='months')}  ·  {counts}"


@report_style
def km_svg_by_arm(
    paramcd: str, arms: list[tuple[str, pd.DataFrame, pd.Series | None]], comparison: str, fig_id: str
) -> str:
    """One KM curve per arm (no CI bands: they would hide each other), censor
    ticks, and a numbers-at-risk table with one row per arm.

    `arms`: (arm name, its km_curves rows, its median endpoint row) in study-file
    order; `comparison`: a line naming the hazard ratio and log-rank p (or "")."""
    import matplotlib.pyplot as plt

    from .svg import plain

    # an arm nobody is analysed in yet has no line, and zeros at risk
    drawn = {k for k, (_, curve, _) in enumerate(arms) if not curve.empty}
    curves = [(name, with_time_zero(curve), median) for name, curve, median in arms]
    max_t = max((float(c["TIME"].max()) for k, (_, c, _) in enumerate(curves) if k in drawn), default=1.0)
    step = risk_tick_step(max_t)
    ticks = np.arange(0, max_t + 1e-9, step)
    n_arms = len(curves)
    fig, (ax, risk_ax) = plt.subplots(
        2,
        1,
        figsize=(7.2, 4.4 + 0.22 * n_arms),
        gridspec_kw={"height_ratios": [6, 0.45 + 0.3 * n_arms], "hspace": 0.42},
    )
    for k, (name, curve, median) in enumerate(curves):
        if k not in drawn:
            continue
        colour, dash = ARM_COLOURS[k % len(ARM_COLOURS)], ARM_STYLES[k % len(ARM_STYLES)]
        t = curve["TIME"].to_numpy(dtype=float)
        ax.step(
            t,
            curve["SURVIVAL"],
            where="post",
            color=colour,
            linestyle=dash,
            linewidth=1.6,
            label=plain(arm_median_label(name, median)),
        )
        _censor_ticks(ax, curve, colour)
    _median_line(ax)
    ax.set_ylim(0, 1.03)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_ylabel(f"{paramcd} probability")
    x_limits = (0, max(max_t, step) * 1.02)
    ax.set_xlim(*x_limits)
    ax.set_title(f"{TITLES.get(paramcd, paramcd)} ({paramcd}) by arm", pad=14 + 13 * (len(drawn) + bool(comparison)))
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=1,
        fontsize=8,
        title=plain(comparison) if comparison else None,
        title_fontsize=8,
        alignment="left",
        borderaxespad=0.3,
        handlelength=2.4,
    )
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)

    # Numbers at risk: one row per arm, its name at the left, aligned with the x axis.
    risk_ax.set_xlim(*x_limits)
    risk_ax.set_ylim(n_arms - 0.5, -0.5)
    risk_ax.set_yticks(range(n_arms))
    risk_ax.set_yticklabels([plain(name) for name, _, _ in curves], fontsize=8)
    for tick, (k, _) in zip(risk_ax.get_yticklabels(), enumerate(curves), strict=True):
        tick.set_color(ARM_COLOURS[k % len(ARM_COLOURS)])
    for spine in risk_ax.spines.values():
        spine.set_visible(False)
    risk_ax.tick_params(axis="both", length=0, labelbottom=False)
    risk_ax.tick_params(axis="y", pad=12)  # the arm names clear the counts at time 0
    risk_ax.set_title("Number at risk", fontsize=8, loc="left", pad=2)
    for k, (_, curve, _) in enumerate(curves):
        for i, (x, n) in enumerate(zip(ticks, at_risk(curve, ticks), strict=False)):
            # gid → <g id="…-at-risk-<arm>-<i>">: each arm's count at each tick can be found in the SVG
            risk_ax.text(x, k, str(n), ha="center", va="center", fontsize=8, gid=f"at-risk-{k}-{i}")
    ax.set_xticks(ticks)
    ax.set_xlabel(X_LABELS.get(paramcd, "Months"))
    return to_inline_svg(fig, fig_id)
