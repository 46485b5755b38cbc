"""Reading adam.* and writing analysis.* for the endpoint step.

Kept apart from the statistics so each statistics module works on plain
pandas frames of one study and can be tested without a warehouse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

# adam tables that dbt always builds; a missing one means the run is broken.
REQUIRED_TABLES = ("adsl", "adrs", "adtte", "adae")
# Single-cell tables: a warehouse without single-cell studies may lack them,
# which is the same as "no CP/GF data" (no celltype/gene rows), not an error.
OPTIONAL_TABLES = ("adcp", "adgf")


class MissingAdamTable(RuntimeError):
    """adam.<table> that the endpoints need is not in the warehouse."""


def table_exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )  # fetchall: DuckDB 2 refuses new work while a result is unfinished


def read_adam(con, table: str) -> pd.DataFrame:
    if not table_exists(con, "adam", table):
        if table in OPTIONAL_TABLES:
            return pd.DataFrame(columns=["STUDYID"])
        raise MissingAdamTable(f"adam.{table} is missing; dbt must build it before the endpoints step")
    return con.sql(f"SELECT * FROM adam.{table}").df()


@dataclass(frozen=True)
class StudyData:
    """The adam tables of one study (pandas frames, possibly empty)."""

    study: str
    adsl: pd.DataFrame
    adrs: pd.DataFrame
    adtte: pd.DataFrame
    adae: pd.DataFrame
    adcp: pd.DataFrame
    adgf: pd.DataFrame

    def subjects(self, flag: str) -> set[str]:
        """USUBJIDs with population flag `flag` = 'Y' (ITTFL, SAFFL, EFFFL)."""
        if self.adsl.empty:
            return set()
        return set(self.adsl.loc[self.adsl[flag] == "Y", "USUBJID"])


def read_all(con) -> dict[str, pd.DataFrame]:
    return {t: read_adam(con, t) for t in REQUIRED_TABLES + OPTIONAL_TABLES}


def study_ids(con, adsl: pd.DataFrame) -> list[str]:
    """Studies in adam.adsl plus every configured study (a configured study with
    no subjects yet still gets its endpoint rows, all with N = 0)."""
    ids = set(adsl["STUDYID"].dropna()) if not adsl.empty else set()
    if table_exists(con, "config", "studies"):
        ids |= {r[0] for r in con.execute("SELECT STUDYID FROM config.studies").fetchall()}
    return sorted(ids)


def split_by_study(tables: dict[str, pd.DataFrame], study: str) -> StudyData:
    def of(name: str) -> pd.DataFrame:
        df = tables[name]
        return df[df["STUDYID"] == study].reset_index(drop=True) if not df.empty else df

    return StudyData(study, **{name: of(name) for name in tables})


def clean(value):
    """NaN/inf/pandas NA → None, numpy scalars → Python, so the warehouse gets NULL."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) or hasattr(value, "dtype"):
        value = value.item() if hasattr(value, "item") else value
        if isinstance(value, float) and not math.isfinite(value):
            return None
    return value


def write_table(con, name: str, columns: dict[str, str], rows: list[dict]) -> int:
    """CREATE OR REPLACE `name` with exactly `columns` (name → DuckDB type).

    Columns are cast explicitly so an empty result still has the contract's
    types (pandas would otherwise infer object/NULL columns)."""
    frame = pd.DataFrame([{c: clean(r.get(c)) for c in columns} for r in rows], columns=list(columns), dtype=object)
    schema = name.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns.items())
    con.register("_endpoint_rows", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM _endpoint_rows")
    finally:
        con.unregister("_endpoint_rows")
    return len(frame)
