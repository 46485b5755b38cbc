"""Hazard ratio of one arm against the reference arm: Cox proportional hazards.

lifelines ``CoxPHFitter`` (Efron's method for tied event times, its default and
R ``coxph``'s) with one covariate, 1 = the experimental arm, 0 = the reference
arm. ESTIMATE = exp(β), the 95 % CI is Wald's, exp(β ± z₀.₉₇₅·SE(β)), SE from
the inverse of the observed information (R ``confint(coxph)``).

Convergence: lifelines stops by default at a Newton decrement < 1e-7 without
taking the last step, which leaves β off by up to ~1e-4·SE. The fit here asks
for a decrement < 1e-24 (the noise floor of the score is ~1e-28), so β is the
maximum of the partial likelihood to machine precision, as R's ``coxph``
reaches it (tests/test_endpoints_vs_r.py: agreement ≤ 1e-12).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METHOD = "Cox PH, Efron ties, Wald 95% CI"
UNIT = "hazard ratio"
FIT_OPTIONS = {"precision": 1e-24, "r_precision": 0.0, "max_steps": 200}


def finite_estimate_exists(days, events, experimental) -> bool:
    """Whether the partial likelihood has a finite maximum for one 0/1 covariate.

    The score at β → +∞ is minus the number of reference-arm events with an
    experimental subject still at risk, and at β → −∞ the number of
    experimental events with a reference subject at risk. β̂ is finite exactly
    when both are non-zero (otherwise the likelihood is monotone, R ``coxph``
    warns "beta may be infinite" and reports a huge coefficient)."""
    days = np.asarray(days, dtype=float)
    events = np.asarray(events, dtype=bool)
    experimental = np.asarray(experimental, dtype=bool)

    def informative(arm_events, other):
        # an event of one arm at a time when a subject of the other arm is at risk (time >= event time)
        if not arm_events.any() or not other.any():
            return False
        return bool(days[arm_events].min() <= days[other].max())

    return informative(events & experimental, ~experimental) and informative(events & ~experimental, experimental)


def hazard_ratio(days, events, experimental) -> tuple[float | None, float | None, float | None]:
    """(HR, LCL, UCL) of experimental (1) vs reference (0); all None when the
    estimate is not finite (an arm empty or without an informative event)."""
    if not finite_estimate_exists(days, events, experimental):
        return None, None, None
    from lifelines import CoxPHFitter

    frame = pd.DataFrame(
        {
            "days": np.asarray(days, dtype=float),
            "event": np.asarray(events, dtype=int),
            "arm": np.asarray(experimental, dtype=int),
        }
    )
    cox = CoxPHFitter(alpha=0.05).fit(frame, "days", "event", fit_options=FIT_OPTIONS)
    beta = float(cox.params_["arm"])
    lcl, ucl = (float(v) for v in cox.confidence_intervals_.loc["arm"])
    return float(np.exp(beta)), float(np.exp(lcl)), float(np.exp(ucl))
