"""Paired baseline vs on-treatment comparisons of the single-cell data.

analysis.celltype_change from adam.adcp (cell-type proportions) and
analysis.gene_change from adam.adgf (mean expression per cell type × gene).
A pair is a subject with a baseline value (BASE) and an ON TREATMENT sample.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

# Differences are rounded before the test so float noise (0.3-0.1 vs 0.5-0.3)
# neither creates nor breaks ties/zeros that the data really have.
_ROUND = 12
# Below this many non-zero differences, with no ties and no zeros, the exact
# null distribution is used; otherwise the normal approximation with tie
# correction and continuity correction. This is R's wilcox.test default, the
# reference most statisticians will check against.
_EXACT_MAX_N = 50


def wilcoxon_p(differences) -> float | None:
    """Two-sided Wilcoxon signed-rank p of paired differences.

    Zero differences are dropped (zero_method='wilcox', the classical test).
    None when fewer than 2 pairs or every difference is zero (no test)."""
    d = np.round(np.asarray(differences, dtype=float), _ROUND)
    d = d[~np.isnan(d)]
    if d.size < 2 or np.all(d == 0):
        return None
    from scipy.stats import wilcoxon

    nonzero = np.abs(d[d != 0])
    exact = nonzero.size == d.size and nonzero.size < _EXACT_MAX_N and np.unique(nonzero).size == nonzero.size
    result = wilcoxon(
        d, zero_method="wilcox", alternative="two-sided", method="exact" if exact else "approx", correction=not exact
    )
    return float(result.pvalue)


def bh_qvalues(pvalues) -> list[float | None]:
    """Benjamini–Hochberg q values (monotone, capped at 1); None stays None and
    does not count in the number of tests."""
    p = pd.Series(pvalues, dtype=float)
    q = pd.Series(np.nan, index=p.index)
    tested = p.notna()
    if tested.any():
        from scipy.stats import false_discovery_control

        q[tested] = false_discovery_control(p[tested].to_numpy(), method="bh")
    return [None if np.isnan(v) else float(v) for v in q]


def pairs(table: pd.DataFrame, sample_id: str, by: list[str]) -> pd.DataFrame:
    """One row per subject × `by` with BASE, AVAL (on treatment) and CHG.

    BASE comes from dbt (the baseline rule lives there). A subject with several
    ON TREATMENT samples contributes the earliest one (ADT, VISITNUM, sample id),
    so every subject weighs the same in a paired test."""
    if table.empty:
        return table
    post = table[
        (table["VISIT"] == "ON TREATMENT")
        & (table["ABLFL"] != "Y")
        & table["BASE"].notna()
        & table["AVAL"].notna()
        & table["CHG"].notna()
    ]
    post = post.sort_values(["ADT", "VISITNUM", sample_id])
    return post.drop_duplicates(["USUBJID", *by], keep="first")


def celltype_rows(data) -> list[dict]:
    paired = pairs(data.adcp, "CPREFID", ["PARAMCD"])
    if paired.empty:
        return []
    return [
        {
            "STUDYID": data.study,
            "CPTESTCD": code,
            "N_PAIRS": len(g),
            "MEDIAN_BASE": g["BASE"].median(),
            "MEDIAN_POST": g["AVAL"].median(),
            "MEDIAN_CHG": g["CHG"].median(),
            "P_WILCOXON": wilcoxon_p(g["CHG"]),
        }
        for code, g in paired.groupby("PARAMCD", sort=True)
    ]


def gene_rows(data) -> list[dict]:
    paired = pairs(data.adgf, "GFREFID", ["CELLTYPE", "GENE"])
    if paired.empty:
        return []
    # A study has thousands of cell type × gene groups: one sort, then each
    # group's slice of plain arrays (a sub-frame per group cost seconds).
    paired = paired.sort_values(["CELLTYPE", "GENE"], kind="stable")
    keys = list(zip(paired["CELLTYPE"], paired["GENE"], strict=True))
    starts = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]] + [len(keys)]
    base, aval, chg = (paired[c].to_numpy(dtype=float) for c in ("BASE", "AVAL", "CHG"))
    rows = [
        {
            "STUDYID": data.study,
            "CELLTYPE": keys[a][0],
            "GENE": keys[a][1],
            "N_PAIRS": b - a,
            "MEAN_PRE": base[a:b].mean(),
            "MEAN_POST": aval[a:b].mean(),
            "MEAN_DIFF": chg[a:b].mean(),
            "P_WILCOXON": wilcoxon_p(chg[a:b]),
        }
        for a, b in itertools.pairwise(starts)
    ]
    # BH within the study: the family is every cell type × gene tested in it.
    for row, q in zip(rows, bh_qvalues([r["P_WILCOXON"] for r in rows]), strict=False):
        row["Q_BH"] = q
    return rows
