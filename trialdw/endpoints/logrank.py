"""Log-rank test of equal survival across the arms of a study.

lifelines ``multivariate_logrank_test``: the k-sample log-rank statistic
(observed − expected events per arm at every event time, hypergeometric
variance, so tied times count as R ``survdiff`` counts them), compared with
χ² on k − 1 degrees of freedom. With two arms it is the two-sample log-rank
test. ESTIMATE = p; tests/test_endpoints_vs_r.py checks χ² and p against R
``survdiff``.
"""

from __future__ import annotations

import numpy as np

UNIT = "p-value"


def method(n_arms: int) -> str:
    return f"Log-rank test, {n_arms} arms, chi-square {n_arms - 1} df"


def logrank_p(days, events, arms) -> float | None:
    """Two-sided p of the log-rank test across the groups in `arms`; None when
    fewer than two groups have subjects or nobody had an event."""
    days = np.asarray(days, dtype=float)
    events = np.asarray(events, dtype=int)
    arms = np.asarray(arms, dtype=object)
    if days.size == 0 or len(set(arms)) < 2 or events.sum() == 0:
        return None
    from lifelines.statistics import multivariate_logrank_test

    return float(multivariate_logrank_test(days, arms, events).p_value)
