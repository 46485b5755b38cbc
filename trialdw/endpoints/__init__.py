"""Endpoint statistics: adam.* → analysis.* (step 6 of the nightly flow).

``compute_all(db_path)`` reads the adam tables dbt built in the run's building
file and (re)writes analysis.endpoints, km_curves, ae_by_term,
celltype_change and gene_change. Conventions: docs/endpoints.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import ae, km, proportions, singlecell
from ._db import read_all, split_by_study, study_ids, write_table

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

# Output contracts: column → DuckDB type, in column order.
ENDPOINTS_COLUMNS = {
    "STUDYID": "VARCHAR",
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
    "AEBODSYS": "VARCHAR",
    "AEDECOD": "VARCHAR",
    "N_SUBJECTS_SAF": "BIGINT",
    **{f"G{g}": "BIGINT" for g in ae.GRADES},
    "ANY_GRADE": "BIGINT",
    "SERIOUS": "BIGINT",
    "RELATED": "BIGINT",
}
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
    """Read adam.* from `db_path` (read-write) and rewrite every analysis.* table."""
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        tables = read_all(con)
        studies = study_ids(con, tables["adsl"])
        out = {name: [] for name in ("endpoints", "km_curves", "ae_by_term", "celltype_change", "gene_change")}
        errors: dict[str, str] = {}
        for study in studies:
            try:
                rows = study_rows(split_by_study(tables, study))
            except Exception as exc:  # a bug met by one study's data must not stop the others
                errors[study] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
                continue
            for name, table_rows in rows.items():
                out[name] += table_rows
        contracts = {
            "endpoints": ENDPOINTS_COLUMNS,
            "km_curves": KM_CURVES_COLUMNS,
            "ae_by_term": AE_BY_TERM_COLUMNS,
            "celltype_change": CELLTYPE_CHANGE_COLUMNS,
            "gene_change": GENE_CHANGE_COLUMNS,
        }
        con.execute("BEGIN TRANSACTION")
        counts = {name: write_table(con, f"analysis.{name}", contracts[name], out[name]) for name in contracts}
        con.execute("COMMIT")
    finally:
        con.close()
    return EndpointSummary(studies=tuple(s for s in studies if s not in errors), table_rows=counts, errors=errors)


def study_rows(data) -> dict[str, list[dict]]:
    """Every analysis row of one study, by analysis table."""
    fits = km.fits_for_study(data)
    curves = [row for paramcd, fit in fits.items() for row in km.curve_rows(data.study, paramcd, fit)]
    return {
        "endpoints": study_endpoint_rows(data, fits),
        "km_curves": curves,
        "ae_by_term": ae.by_term_rows(data),
        "celltype_change": singlecell.celltype_rows(data),
        "gene_change": singlecell.gene_rows(data),
    }


__all__ = ["ENDPOINTS", "EndpointSummary", "compute_all"]
