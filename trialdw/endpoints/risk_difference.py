"""Difference of two proportions with Newcombe's hybrid score 95 % CI.

Newcombe (1998, Stat Med 17:873, method 10): with p₁ = k₁/n₁ (experimental)
and p₀ = k₀/n₀ (reference), and (l₁, u₁), (l₀, u₀) their Wilson score 95 %
intervals, the interval for d = p₁ − p₀ is
    d − √((p₁ − l₁)² + (u₀ − p₀)²)  to  d + √((u₁ − p₁)² + (p₀ − l₀)²).
It stays within [−1, 1], is defined for 0/n and n/n, and keeps close to 95 %
coverage in small samples, unlike Wald's. Wilson intervals: scipy
``binomtest(k, n).proportion_ci(method="wilson")`` (R: ``prop.test(k, n,
correct = FALSE)$conf.int``).
"""

from __future__ import annotations

import math

METHOD = "Newcombe hybrid score 95% CI"
UNIT = "difference in proportions"


def wilson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe_difference(k1: int, n1: int, k0: int, n0: int) -> tuple[float | None, float | None, float | None]:
    """(p1 − p0, LCL, UCL); all None when either group is empty."""
    if n1 == 0 or n0 == 0:
        return None, None, None
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson(k1, n1)
    l0, u0 = wilson(k0, n0)
    d = p1 - p0
    return d, d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)
