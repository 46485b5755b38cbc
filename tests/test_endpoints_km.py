"""Kaplan–Meier pieces of trialdw.endpoints, against hand computations.

Times are days; a censored observation has CNSR = 1.
"""

import math

import numpy as np
import pytest

from trialdw.endpoints import km


def test_median_on_a_step_exactly_at_half_is_that_step():
    # Times 1..6, all events: S(1..6) = 5/6, 4/6, 3/6, 2/6, 1/6, 0.
    # S(3) = 0.5 exactly -> median = 3 (first t with S(t) <= 0.5), not the
    # midpoint 3.5 some packages report. lifelines computes S(3) as
    # 0.5000000000000001 and would say 4; the rounding in km.py prevents that.
    fit = km.fit(range(1, 7), [0] * 6)
    assert fit.survival_function_.loc[3.0].iloc[0] > 0.5  # the float noise is real
    median, lcl, ucl = km.median_days(fit)
    assert median == 3.0
    # CI of the median = first times the lower / upper band reach <= 0.5.
    # Lower band at t=1: S=5/6, V=1/(6*5)=1/30, log(-log S)=log(0.18232)=-1.7020,
    # se = sqrt(1/30)/0.18232 = 1.0014 -> exp(-exp(-1.7020+1.96*1.0014)) = 0.2718 <= 0.5.
    assert lcl == 1.0
    assert ucl == 6.0


def test_median_with_censoring():
    # Times 1..10, censored at 3 and 8.
    # t1: 10 at risk, S=0.9; t2: 9, S=0.8; t3 censored; t4: 7 at risk, S=0.8*6/7=0.6857;
    # t5: 6, S=0.5714; t6: 5, S=0.4571 <= 0.5 -> median 6.
    cnsr = [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]
    fit = km.fit(range(1, 11), cnsr)
    assert km.median_days(fit)[0] == 6.0
    assert fit.survival_function_.loc[6.0].iloc[0] == pytest.approx(0.8 * 6 / 7 * 5 / 6 * 4 / 5)


def test_median_not_reached_is_none():
    # Events at 1 and 2 only, the other 8 censored: S never below 0.8.
    fit = km.fit(range(1, 11), [0, 0] + [1] * 8)
    median, lcl, ucl = km.median_days(fit)
    assert median is None and ucl is None
    # The lower band does cross 0.5 (n = 10 is small), so LCL alone is reached.
    assert lcl is not None


def test_no_subjects_gives_no_fit_and_none_estimates():
    assert km.fit([], []) is None
    assert km.median_days(None) == (None, None, None)
    assert km.rate_at(None, 91.3125) == (None, None, None)
    assert km.curve_rows("S", "PFS", None) == []


# Rate data: 30 event, 60 censored, 91 event, 92 event, 120 censored, 150 event.
RATE_DAYS = [30, 60, 91, 92, 120, 150]
RATE_CNSR = [0, 1, 0, 0, 1, 0]


def greenwood_loglog(steps, z=1.959963984540054):
    """Independent log(-log) CI: steps = [(at_risk, deaths), ...] up to t."""
    surv = np.prod([(n - d) / n for n, d in steps])
    var = sum(d / (n * (n - d)) for n, d in steps)  # Greenwood sum
    loglog = math.log(-math.log(surv))
    se = math.sqrt(var) / abs(math.log(surv))
    return surv, math.exp(-math.exp(loglog + z * se)), math.exp(-math.exp(loglog - z * se))


def test_rate_at_3_months_uses_the_step_at_or_before_t_with_loglog_ci():
    # t = 3 x 30.4375 = 91.3125 days. Steps up to t: 30 (6 at risk, 1 death),
    # 91 (4 at risk after the censoring at 60, 1 death): S = 5/6 * 3/4 = 0.625.
    # The death at 92 is after t and does not count.
    fit = km.fit(RATE_DAYS, RATE_CNSR)
    surv, lcl, ucl = km.rate_at(fit, 3 * km.DAYS_PER_MONTH)
    expected = greenwood_loglog([(6, 1), (4, 1)])
    assert surv == pytest.approx(0.625)
    assert (surv, lcl, ucl) == pytest.approx(expected, abs=1e-12)
    # Hand values: V = 1/30 + 1/12 = 0.116667, se = 0.341565/0.470004 = 0.72673,
    # log(-log 0.625) = -0.75501 -> LCL exp(-exp(0.66934)) = 0.1419, UCL 0.8930.
    assert lcl == pytest.approx(0.1419, abs=1e-4)
    assert ucl == pytest.approx(0.8930, abs=1e-4)


def test_rate_step_at_exactly_t_is_included():
    fit = km.fit(RATE_DAYS, RATE_CNSR)
    assert km.rate_at(fit, 91.0)[0] == pytest.approx(0.625)
    assert km.rate_at(fit, 90.999)[0] == pytest.approx(5 / 6)


def test_rate_beyond_follow_up():
    # Last observation an event with S = 0: the rate is 0 at any later time.
    fit = km.fit(RATE_DAYS, RATE_CNSR)
    assert km.rate_at(fit, 365.25)[0] == 0.0
    # First five only, last censored at 120: S = 4/5 * 2/3 * 1/2 = 0.2667 > 0,
    # so the curve is not estimable past day 120.
    fit = km.fit(RATE_DAYS[:5], RATE_CNSR[:5])
    assert km.rate_at(fit, 120.0)[0] == pytest.approx(4 / 5 * 2 / 3 * 1 / 2)
    assert km.rate_at(fit, 121.0) == (None, None, None)


def test_curve_rows_one_per_distinct_time_including_zero():
    fit = km.fit([30, 30, 60, 91], [0, 1, 0, 1])
    rows = km.curve_rows("S1", "OS", fit)
    assert [round(r["TIME"] * km.DAYS_PER_MONTH, 6) for r in rows] == [0, 30, 60, 91]
    assert [(r["AT_RISK"], r["EVENTS"], r["CENSORED"]) for r in rows] == [(4, 0, 0), (4, 1, 1), (2, 1, 0), (1, 0, 1)]
    # S: 1, 3/4, 3/4 * 1/2 = 0.375, 0.375. The CI at time 0 is (1, 1).
    assert [r["SURVIVAL"] for r in rows] == pytest.approx([1.0, 0.75, 0.375, 0.375])
    assert (rows[0]["LCL"], rows[0]["UCL"]) == (1.0, 1.0)
    assert rows[1]["TIME"] == pytest.approx(30 / 30.4375)
    _, lcl, ucl = greenwood_loglog([(4, 1), (2, 1)])
    assert (rows[2]["LCL"], rows[2]["UCL"]) == pytest.approx((lcl, ucl), abs=1e-12)
