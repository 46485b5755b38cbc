"""Clopper–Pearson, Wilcoxon signed-rank and Benjamini–Hochberg helpers."""

import math

import pytest

from trialdw.endpoints.proportions import clopper_pearson, proportion_row
from trialdw.endpoints.singlecell import bh_qvalues, wilcoxon_p


@pytest.mark.parametrize(
    "k, n, expected",
    [
        (3, 10, (0.3, 0.0667, 0.6525)),  # published exact CI for 3/10
        (0, 10, (0.0, 0.0, 0.3085)),  # k = 0: LCL 0, UCL = 1 - 0.025^(1/10)
        (10, 10, (1.0, 0.6915, 1.0)),  # k = n: LCL = 0.025^(1/10), UCL 1
    ],
)
def test_clopper_pearson_known_values(k, n, expected):
    assert clopper_pearson(k, n) == pytest.approx(expected, abs=5e-5)


def test_clopper_pearson_edges_are_closed_form():
    # For k = 0 the exact upper bound is 1 - (alpha/2)^(1/n).
    assert clopper_pearson(0, 10)[2] == pytest.approx(1 - 0.025**0.1, abs=1e-12)
    assert clopper_pearson(10, 10)[1] == pytest.approx(0.025**0.1, abs=1e-12)


def test_empty_denominator_gives_null_estimates():
    assert clopper_pearson(0, 0) == (None, None, None)
    row = proportion_row("S1", "ORR", "EFFFL", 0, 0)
    assert (row["N"], row["N_EVENTS"], row["ESTIMATE"], row["LCL"], row["UCL"]) == (0, 0, None, None, None)
    assert (row["UNIT"], row["METHOD"]) == ("proportion", "Clopper-Pearson exact")


def test_wilcoxon_exact_without_ties():
    # d = 1, 2, -3, 4, 5: ranks 1..5, W- = 3. Subsets of {1..5} summing to <= 3:
    # {}, {1}, {2}, {3}, {1,2} -> P(W <= 3) = 5/32, two-sided p = 10/32.
    assert wilcoxon_p([1, 2, -3, 4, 5]) == pytest.approx(10 / 32)
    # All three differences negative: P(W+ = 0) = 1/8, two-sided 0.25.
    assert wilcoxon_p([-0.05, -0.08, -0.11]) == pytest.approx(0.25)


def test_wilcoxon_with_zero_and_ties_uses_normal_approximation():
    # d = 0, 1, 1, -2, 3, 4: the zero is dropped (n = 5); |d| ranks 1.5, 1.5, 3, 4, 5.
    # V = W+ = 12, E = 5*6/4 = 7.5, Var = 5*6*11/24 - (2^3-2)/48 = 13.625.
    # z = (12 - 7.5 - 0.5) / sqrt(13.625) = 1.08366 -> p = 0.2785 (R wilcox.test).
    z = (12 - 7.5 - 0.5) / math.sqrt(13.625)
    assert wilcoxon_p([0, 1, 1, -2, 3, 4]) == pytest.approx(math.erfc(z / math.sqrt(2)), abs=1e-12)
    assert wilcoxon_p([0, 1, 1, -2, 3, 4]) == pytest.approx(0.2785, abs=1e-4)


def test_wilcoxon_float_noise_does_not_break_a_tie():
    # 0.3-0.1 and 0.5-0.3 are both 0.2 on paper but differ in binary floating
    # point; rounded, they tie -> normal approximation, same as [0.2, 0.2, 0.4].
    assert wilcoxon_p([0.3 - 0.1, 0.5 - 0.3, 0.4]) == pytest.approx(wilcoxon_p([0.2, 0.2, 0.4]))


def test_wilcoxon_not_computed_for_fewer_than_two_pairs_or_all_zero():
    assert wilcoxon_p([]) is None
    assert wilcoxon_p([0.3]) is None
    assert wilcoxon_p([0.0, 0.0, 0.0]) is None


def test_bh_qvalues_by_hand():
    # m = 4 tested (None excluded). Sorted 0.01, 0.03, 0.04, 0.20 -> p*m/rank:
    # 0.04, 0.06, 0.0533, 0.20; cumulative minimum from the top:
    # 0.04, 0.0533, 0.0533, 0.20.
    q = bh_qvalues([0.01, 0.04, 0.03, 0.20, None])
    assert q[:4] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.20])
    assert q[4] is None


def test_bh_qvalues_capped_and_empty():
    assert bh_qvalues([1.0, 1.0]) == [1.0, 1.0]
    assert bh_qvalues([None, None]) == [None, None]
    assert bh_qvalues([]) == []
