"""Kaplan–Meier medians, landmark rates and curves from adam.adtte.

lifelines' KaplanMeierFitter with its default confidence interval, which is
the log(-log) ("exponential Greenwood") one: lifelines ``_bounds`` computes
exp(-exp(log(-log S) ± z·sqrt(Σ d/(n(n-d))) / log S)) (see docs/endpoints.md).
AVAL is in days; everything written to analysis.* is in months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375  # 365.25 / 12
METHOD = "Kaplan-Meier log-log"
UNIT_MONTHS = "months"
UNIT_PROPORTION = "proportion"

# PARAMCD → population flag it is analysed in (ADTTE holds population members only).
KM_PARAMETERS = {"PFS": "EFFFL", "OS": "ITTFL", "DOR": "RSP"}
# KM landmark rates: ENDPOINT → (PARAMCD, months).
KM_RATES = {"PFS_RATE_3M_KM": ("PFS", 3), "OS_RATE_12M_KM": ("OS", 12)}
KM_MEDIANS = {"PFS_MEDIAN": "PFS", "OS_MEDIAN": "OS", "DOR_MEDIAN": "DOR"}

# S(t) is a product of fractions computed as exp(Σ log): a step that is exactly
# 0.5 can come out as 0.5000000000000001 and move the median one step later.
# Rounding to 12 decimals before looking for S(t) ≤ 0.5 removes that noise.
_ROUND = 12


def analysis_set(data, paramcd: str) -> pd.DataFrame:
    """ADTTE rows analysed for one parameter: AVAL and CNSR present; PFS/OS
    restricted to their ADSL population so KM and crude rates share one N."""
    tte = data.adtte
    if tte.empty:
        return tte
    rows = tte[(tte["PARAMCD"] == paramcd) & tte["AVAL"].notna() & tte["CNSR"].notna()]
    flag = KM_PARAMETERS[paramcd]
    if flag != "RSP":
        rows = rows[rows["USUBJID"].isin(data.subjects(flag))]
    return rows


def fit(days, censored):
    """KaplanMeierFitter on AVAL (days) and CNSR (1 = censored); None when empty."""
    days = np.asarray(days, dtype=float)
    if days.size == 0:
        return None
    from lifelines import KaplanMeierFitter

    events = 1 - np.asarray(censored, dtype=int)
    return KaplanMeierFitter(alpha=0.05).fit(days, event_observed=events)


def _first_time_at_or_below_half(column: pd.DataFrame) -> float | None:
    from lifelines.utils import median_survival_times

    value = float(median_survival_times(column.round(_ROUND)))
    return value if np.isfinite(value) else None  # inf = not reached


def median_days(km) -> tuple[float | None, float | None, float | None]:
    """(median, LCL, UCL) in days: first time S(t) ≤ 0.5, and the first times the
    lower / upper CI band is ≤ 0.5. None = not reached."""
    if km is None:
        return None, None, None
    ci = km.confidence_interval_
    return (
        _first_time_at_or_below_half(km.survival_function_),
        _first_time_at_or_below_half(ci.iloc[:, [0]]),
        _first_time_at_or_below_half(ci.iloc[:, [1]]),
    )


def rate_at(km, t_days: float) -> tuple[float | None, float | None, float | None]:
    """(S(t), LCL, UCL) of the step function at t (a step at exactly t counts).

    None when t is past the last observed time and S there is still > 0: the
    curve is not estimable beyond follow-up (R's summary(survfit, times=)
    also refuses to extend it)."""
    if km is None:
        return None, None, None
    timeline = km.survival_function_.index.to_numpy(dtype=float)
    i = int(np.searchsorted(timeline, t_days, side="right")) - 1
    surv = float(km.survival_function_.iloc[i, 0])
    if t_days > timeline[-1] and surv > 0:
        return None, None, None
    lcl, ucl = (float(v) for v in km.confidence_interval_.iloc[i])
    return surv, lcl, ucl


def _row(study, endpoint, paramcd, km, estimate_ci, unit) -> dict:
    n = 0 if km is None else len(km.durations)
    events = 0 if km is None else int(np.sum(km.event_observed))
    est, lcl, ucl = estimate_ci
    return {
        "STUDYID": study,
        "ENDPOINT": endpoint,
        "POPULATION": KM_PARAMETERS[paramcd],
        "N": n,
        "N_EVENTS": events,
        "ESTIMATE": est,
        "LCL": lcl,
        "UCL": ucl,
        "UNIT": unit,
        "METHOD": METHOD,
    }


def fits_for_study(data) -> dict:
    fits = {}
    for paramcd in KM_PARAMETERS:
        rows = analysis_set(data, paramcd)
        fits[paramcd] = fit(rows["AVAL"], rows["CNSR"]) if not rows.empty else None
    return fits


def endpoint_rows(data, fits: dict) -> list[dict]:
    rows = []
    for endpoint, paramcd in KM_MEDIANS.items():
        months = tuple(None if d is None else d / DAYS_PER_MONTH for d in median_days(fits[paramcd]))
        rows.append(_row(data.study, endpoint, paramcd, fits[paramcd], months, UNIT_MONTHS))
    for endpoint, (paramcd, m) in KM_RATES.items():
        rate = rate_at(fits[paramcd], m * DAYS_PER_MONTH)
        rows.append(_row(data.study, endpoint, paramcd, fits[paramcd], rate, UNIT_PROPORTION))
    return rows


def curve_rows(study: str, paramcd: str, km) -> list[dict]:
    """One row per distinct time (time 0 included) with the numbers a KM plot and
    its risk table need."""
    if km is None:
        return []
    # Whole columns aligned on the event table's times (indexing lifelines'
    # frames time by time cost seconds for a 1,000-subject study).
    table = km.event_table
    times = table.index
    surv = km.survival_function_.iloc[:, 0].reindex(times).to_numpy()
    lcl = km.confidence_interval_.iloc[:, 0].reindex(times).to_numpy()
    ucl = km.confidence_interval_.iloc[:, 1].reindex(times).to_numpy()
    counts = zip(table["at_risk"].to_numpy(), table["observed"].to_numpy(), table["censored"].to_numpy(), strict=True)
    return [
        {
            "STUDYID": study,
            "PARAMCD": paramcd,
            "TIME": float(t) / DAYS_PER_MONTH,
            "SURVIVAL": float(s),
            "LCL": float(lo),
            "UCL": float(hi),
            "AT_RISK": int(at_risk),
            "EVENTS": int(events),
            "CENSORED": int(censored),
        }
        for t, s, lo, hi, (at_risk, events, censored) in zip(times, surv, lcl, ucl, counts, strict=True)
    ]
