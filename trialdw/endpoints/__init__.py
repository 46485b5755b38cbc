"""Endpoint statistics: adam.* → analysis.* (step 6 of the nightly flow).

``compute_all(db_path)`` reads the adam tables dbt built in the run's building
file and (re)writes analysis.endpoints, km_curves, ae_by_term, ae_by_soc,
celltype_change and gene_change. Conventions: docs/endpoints.md.

Arms: every row with ARMCD NULL is about all the study's subjects (the only
rows of a single-arm study). A study with more than one arm also gets the same
rows for each arm (ARMCD, ARM set; ``StudyData.for_arms``) and the
between-arm comparisons of ``comparisons`` (hazard ratios, log-rank tests,
differences in proportions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import ae, comparisons, km, proportions, singlecell
from ._db import read_adam, read_arms, read_study, study_ids, typed_rows, write_table

# Row order of analysis.endpoints within a study (the spec's table order).
ENDPOINTS = (
    "PFS_MEDIAN",
    "PFS_RATE_3M_KM",
    "PFS_RATE_3M",
    "OS_MEDIAN",
    "OS_RATE_12M_KM",
    "MORT_12M",
    "DOR_MEDIAN",
    "ORR",
    "CRR",
    "PRR",
    "DCR",
    "SD_RATE",
    "AE_ANY",
    "AE_G3",
    "AE_SER",
    "AE_DISC",
    "AE_FATAL",
    "ADR_ANY",
    "ADR_G3",
)

# Between-arm comparison rows (randomised studies), after the per-arm rows.
COMPARISONS = comparisons.COMPARISONS

# The arm columns every by-arm table carries after STUDYID: NULL = all subjects.
ARM_COLUMNS = {"ARMCD": "VARCHAR", "ARM": "VARCHAR"}

# Output contracts: column → DuckDB type, in column order.
ENDPOINTS_COLUMNS = {
    "STUDYID": "VARCHAR",
    **ARM_COLUMNS,
    "REF_ARMCD": "VARCHAR",
    "ENDPOINT": "VARCHAR",
    "POPULATION": "VARCHAR",
    "N": "BIGINT",
    "N_EVENTS": "BIGINT",
    "ESTIMATE": "DOUBLE",
    "LCL": "DOUBLE",
    "UCL": "DOUBLE",
    "UNIT": "VARCHAR",
    "METHOD": "VARCHAR",
}
KM_CURVES_COLUMNS = {
    "STUDYID": "VARCHAR",
    **ARM_COLUMNS,
    "PARAMCD": "VARCHAR",
    "TIME": "DOUBLE",
    "SURVIVAL": "DOUBLE",
    "LCL": "DOUBLE",
    "UCL": "DOUBLE",
    "AT_RISK": "BIGINT",
    "EVENTS": "BIGINT",
    "CENSORED": "BIGINT",
}
AE_BY_TERM_COLUMNS = {
    "STUDYID": "VARCHAR",
    **ARM_COLUMNS,
    "AEBODSYS": "VARCHAR",
    "AEDECOD": "VARCHAR",
    "N_SUBJECTS_SAF": "BIGINT",
    **{f"G{g}": "BIGINT" for g in ae.GRADES},
    "ANY_GRADE": "BIGINT",
    "SERIOUS": "BIGINT",
    "RELATED": "BIGINT",
}
# AEBODSYS NULL = the any-TEAE row (every SOC together).
AE_BY_SOC_COLUMNS = {c: t for c, t in AE_BY_TERM_COLUMNS.items() if c != "AEDECOD"}
CELLTYPE_CHANGE_COLUMNS = {
    "STUDYID": "VARCHAR",
    "CPTESTCD": "VARCHAR",
    "N_PAIRS": "BIGINT",
    "MEDIAN_BASE": "DOUBLE",
    "MEDIAN_POST": "DOUBLE",
    "MEDIAN_CHG": "DOUBLE",
    "P_WILCOXON": "DOUBLE",
}
GENE_CHANGE_COLUMNS = {
    "STUDYID": "VARCHAR",
    "CELLTYPE": "VARCHAR",
    "GENE": "VARCHAR",
    "N_PAIRS": "BIGINT",
    "MEAN_PRE": "DOUBLE",
    "MEAN_POST": "DOUBLE",
    "MEAN_DIFF": "DOUBLE",
    "P_WILCOXON": "DOUBLE",
    "Q_BH": "DOUBLE",
}


@dataclass(frozen=True)
class EndpointSummary:
    """What the step wrote: the studies analysed and rows per analysis table.

    ``errors``: studies whose statistics raised (STUDYID → one line); they have
    no analysis rows, and the night holds them back, not the other studies."""

    studies: tuple[str, ...]
    table_rows: dict[str, int]
    errors: dict[str, str] = field(default_factory=dict)


def study_endpoint_rows(data, fits: dict) -> list[dict]:
    """Every endpoint row of one study, in ENDPOINTS order."""
    rows = (
        km.endpoint_rows(data, fits)
        + proportions.crude_rate_rows(data)
        + proportions.response_rate_rows(data)
        + ae.endpoint_rows(data)
    )
    by_name = {r["ENDPOINT"]: r for r in rows}
    if set(by_name) != set(ENDPOINTS):  # a catalogue/module mismatch is a code bug
        raise RuntimeError(f"endpoint rows out of step with ENDPOINTS: {sorted(set(by_name) ^ set(ENDPOINTS))}")
    return [by_name[e] for e in ENDPOINTS]


def compute_all(db_path: Path) -> EndpointSummary:
    """Read adam.* from `db_path` and rewrite every analysis.* table.

    1. The studies and arms, read-only.
    2. Each study's rows, study by study (only one study's rows in memory per
       process); the studies are shared out over the cores
       (trialdw.parallel.map_shares: lifelines and pandas hold the GIL), each
       share reading the file read-only.
    3. Every analysis table written in one transaction, studies in STUDYID order."""
    import duckdb

    from trialdw.parallel import MIN_ITEMS, map_shares
    from trialdw.warehouse import adam_rows_by_study

    with duckdb.connect(str(db_path), read_only=True) as con:
        arms = read_arms(con)
        studies = study_ids(con, read_adam(con, "adsl", columns="DISTINCT STUDYID"))
    # Shared from MIN_ITEMS studies up, warm children or not: a share in this
    # process first imports lifelines and pandas (~1.1 s), more than a study of
    # the demo's size takes (~0.35 s); two such studies go to one warm child.
    rows = adam_rows_by_study(Path(db_path)) if len(studies) >= MIN_ITEMS else {}
    shares = map_shares(
        _rows_of_studies, studies, Path(db_path), arms, min_items=MIN_ITEMS, size=lambda s: rows.get(s, 0)
    )
    computed = {study: rows for share in shares for study, rows in share}
    out: dict[str, list] = {name: [] for name in TABLES}  # per table, its studies' Arrow tables
    errors = {study: computed[study] for study in studies if isinstance(computed[study], str)}
    for study in studies:
        if study not in errors:
            for name, table in computed[study].items():
                out[name].append(table)
    con = duckdb.connect(str(db_path))
    try:
        con.execute("BEGIN TRANSACTION")
        counts = {name: write_table(con, f"analysis.{name}", TABLES[name], out[name]) for name in TABLES}
        con.execute("COMMIT")
    finally:
        con.close()
    return EndpointSummary(studies=tuple(s for s in studies if s not in errors), table_rows=counts, errors=errors)


def _rows_of_studies(studies: list[str], db_path: Path, arms) -> list[tuple[str, dict | str]]:
    """(study, its rows by analysis table as Arrow tables, or the error that
    stopped it) for one share of the studies (maybe in a child process)."""
    import duckdb

    done: list[tuple[str, dict | str]] = []
    with duckdb.connect(str(db_path), read_only=True) as con:
        for study in studies:
            try:
                rows = study_rows(read_study(con, study, arms))
                done.append((study, {name: typed_rows(con, TABLES[name], rows[name]) for name in TABLES}))
            except Exception as exc:  # a bug met by one study's data must not stop the others
                done.append((study, f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]))
    return done


def group_rows(data) -> dict[str, list[dict]]:
    """The rows of the by-arm tables for the subjects in `data` (the whole study,
    or one arm of it)."""
    fits = km.fits_for_study(data)
    return {
        "endpoints": study_endpoint_rows(data, fits),
        "km_curves": [row for paramcd, fit in fits.items() for row in km.curve_rows(data.study, paramcd, fit)],
        "ae_by_term": ae.by_term_rows(data),
        "ae_by_soc": ae.by_soc_rows(data),
    }


def study_rows(data) -> dict[str, list[dict]]:
    """Every analysis row of one study, by analysis table: all subjects (ARMCD
    NULL); for a randomised study then each arm in study-file order and the
    comparisons. The single-cell tables are about all subjects only."""
    rows = group_rows(data)
    if data.randomised:
        for arm in data.arms:
            for name, arm_rows in group_rows(data.for_arms(arm.armcd)).items():
                rows[name] += [{**row, "ARMCD": arm.armcd, "ARM": arm.arm} for row in arm_rows]
        rows["endpoints"] += comparisons.comparison_rows(data)
    rows["celltype_change"] = singlecell.celltype_rows(data)
    rows["gene_change"] = singlecell.gene_rows(data)
    return rows


# analysis.<table> → its output contract.
TABLES = {
    "endpoints": ENDPOINTS_COLUMNS,
    "km_curves": KM_CURVES_COLUMNS,
    "ae_by_term": AE_BY_TERM_COLUMNS,
    "ae_by_soc": AE_BY_SOC_COLUMNS,
    "celltype_change": CELLTYPE_CHANGE_COLUMNS,
    "gene_change": GENE_CHANGE_COLUMNS,
}

__all__ = ["COMPARISONS", "ENDPOINTS", "TABLES", "EndpointSummary", "compute_all"]
