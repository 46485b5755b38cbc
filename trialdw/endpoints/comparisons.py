"""Between-arm comparisons of a randomised study (more than one arm).

Which arm is compared with which: every arm with the study's reference arm
(config.study_arms REFERENCE: the study file's ``reference: true``, else its
first arm). Each pairwise statistic uses the subjects of the two arms only, so
it is what a two-arm trial of those arms would report, and adding an arm does
not change it. The log-rank test is one test over all the arms.

| ENDPOINT | rows | ARMCD / REF_ARMCD | statistic |
|---|---|---|---|
| PFS_HR, OS_HR | one per non-reference arm | the arm / the reference | hazard_ratio (Cox PH, Efron) |
| PFS_LOGRANK_P, OS_LOGRANK_P | one | NULL / NULL (all arms) | logrank (k − 1 df) |
| ORR_DIFF, DCR_DIFF | one per non-reference arm | the arm / the reference | risk_difference (Newcombe) |
"""

from __future__ import annotations

from . import hazard_ratio, km, logrank, risk_difference
from .proportions import response_count

# Row order of the comparison rows within a study.
COMPARISONS = ("PFS_HR", "PFS_LOGRANK_P", "OS_HR", "OS_LOGRANK_P", "ORR_DIFF", "DCR_DIFF")
HAZARD_RATIOS = {"PFS_HR": "PFS", "OS_HR": "OS"}
LOGRANK_TESTS = {"PFS_LOGRANK_P": "PFS", "OS_LOGRANK_P": "OS"}
DIFFERENCES = {"ORR_DIFF": "ORR", "DCR_DIFF": "DCR"}


def _row(data, endpoint, arm, population, n, events, estimate_ci, unit, method) -> dict:
    estimate, lcl, ucl = estimate_ci
    return {
        "STUDYID": data.study,
        "ARMCD": arm.armcd if arm else None,
        "ARM": arm.arm if arm else None,
        "REF_ARMCD": data.reference_arm.armcd if arm else None,
        "ENDPOINT": endpoint,
        "POPULATION": population,
        "N": n,
        "N_EVENTS": events,
        "ESTIMATE": estimate,
        "LCL": lcl,
        "UCL": ucl,
        "UNIT": unit,
        "METHOD": method,
    }


def _survival(data, paramcd: str):
    """(days, event 0/1, ARMCD) of the parameter's analysis set (km.analysis_set)."""
    rows = km.analysis_set(data, paramcd)
    if rows.empty:
        return [], [], []
    arm_of = dict(zip(data.adsl["USUBJID"], data.adsl["ARMCD"], strict=False))
    return (
        rows["AVAL"].astype(float).tolist(),
        (1 - rows["CNSR"].astype(int)).tolist(),
        [arm_of.get(u) for u in rows["USUBJID"]],
    )


def hazard_ratio_rows(data, endpoint: str) -> list[dict]:
    paramcd, reference = HAZARD_RATIOS[endpoint], data.reference_arm
    rows = []
    for arm in data.arms:
        if arm == reference:
            continue
        days, events, arms = _survival(data.for_arms(reference.armcd, arm.armcd), paramcd)
        experimental = [a == arm.armcd for a in arms]
        estimate = hazard_ratio.hazard_ratio(days, events, experimental)
        population = km.KM_PARAMETERS[paramcd]
        unit, method = hazard_ratio.UNIT, hazard_ratio.METHOD
        rows.append(_row(data, endpoint, arm, population, len(days), sum(events), estimate, unit, method))
    return rows


def logrank_rows(data, endpoint: str) -> list[dict]:
    paramcd = LOGRANK_TESTS[endpoint]
    days, events, arms = _survival(data.for_arms(*(a.armcd for a in data.arms)), paramcd)
    p = logrank.logrank_p(days, events, arms)
    population = km.KM_PARAMETERS[paramcd]
    method = logrank.method(len(data.arms))
    return [_row(data, endpoint, None, population, len(days), sum(events), (p, None, None), logrank.UNIT, method)]


def difference_rows(data, endpoint: str) -> list[dict]:
    rate, reference = DIFFERENCES[endpoint], data.reference_arm
    k0, n0 = response_count(data.for_arms(reference.armcd), rate)
    rows = []
    for arm in data.arms:
        if arm == reference:
            continue
        k1, n1 = response_count(data.for_arms(arm.armcd), rate)
        estimate = risk_difference.newcombe_difference(k1, n1, k0, n0)
        rows.append(
            _row(data, endpoint, arm, "EFFFL", n1 + n0, k1 + k0, estimate, risk_difference.UNIT, risk_difference.METHOD)
        )
    return rows


def comparison_rows(data) -> list[dict]:
    """Every comparison row of a randomised study, in COMPARISONS order (and arm
    order within an endpoint); none for a study with one arm."""
    if not data.randomised:
        return []
    builders = {
        **dict.fromkeys(HAZARD_RATIOS, hazard_ratio_rows),
        **dict.fromkeys(LOGRANK_TESTS, logrank_rows),
        **dict.fromkeys(DIFFERENCES, difference_rows),
    }
    return [row for endpoint in COMPARISONS for row in builders[endpoint](data, endpoint)]
