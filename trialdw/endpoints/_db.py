"""Reading adam.* and writing analysis.* for the endpoint step.

Kept apart from the statistics so each statistics module works on plain
pandas frames of one study and can be tested without a warehouse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from trialdw.warehouse import table_exists

# adam tables that dbt always builds; a missing one means the run is broken.
REQUIRED_TABLES = ("adsl", "adrs", "adtte", "adae")
# Single-cell tables: a warehouse without single-cell studies may lack them,
# which is the same as "no CP/GF data" (no celltype/gene rows), not an error.
OPTIONAL_TABLES = ("adcp", "adgf")


# config.study_arms (trialdw.study_config.write_config_tables).
ARM_CONFIG_COLUMNS = ["STUDYID", "ARMCD", "ARM", "ARMN", "REFERENCE"]


class MissingAdamTable(RuntimeError):
    """adam.<table> that the endpoints need is not in the warehouse."""


def read_adam(
    con, table: str, study: str | None = None, columns: str = "*", *, text_as_categories: bool = False
) -> pd.DataFrame:
    """adam.<table> as a frame: every study's rows, or only ``study``'s (read in
    SQL, so a portfolio's single-cell rows are never all in memory at once).

    ``text_as_categories``: text columns as pandas categoricals, read through
    Arrow so the text is never a column of Python strings. Why: a single-cell
    study's ADGF has ~700 rows per subject and few distinct ids, cell types
    and genes; a 1,000-subject study's frame takes 33 MB this way against
    340 MB (and ~460 MB of RSS while DuckDB hands it over) as strings.
    Categories are set in lexical order, so comparisons, sorting, isin and
    drop_duplicates give what the strings give; dates come as datetime64, as
    they do without it."""
    if not table_exists(con, "adam", table):
        if table in OPTIONAL_TABLES:
            return pd.DataFrame(columns=["STUDYID"])
        raise MissingAdamTable(f"adam.{table} is missing; dbt must build it before the endpoints step")
    where, params = ("", None) if study is None else (" WHERE STUDYID = $study", {"study": study})
    result = con.sql(f"SELECT {columns} FROM adam.{table}{where}", params=params)
    if not text_as_categories:
        return result.df()
    frame = result.to_arrow_table().to_pandas(strings_to_categorical=True, date_as_object=False)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].cat.set_categories(sorted(frame[column].cat.categories))
    return frame


@dataclass(frozen=True)
class StudyArm:
    """One arm of a study (config.study_arms): its code, name and whether it is
    the reference (control) arm the others are compared with."""

    armcd: str
    arm: str
    reference: bool = False


@dataclass(frozen=True)
class StudyData:
    """The adam tables of one study (pandas frames, possibly empty), and its arms
    in study-file order (empty when unknown: analysed as one group)."""

    study: str
    adsl: pd.DataFrame
    adrs: pd.DataFrame
    adtte: pd.DataFrame
    adae: pd.DataFrame
    adcp: pd.DataFrame
    adgf: pd.DataFrame
    arms: tuple[StudyArm, ...] = ()

    def subjects(self, flag: str) -> set[str]:
        """USUBJIDs with population flag `flag` = 'Y' (ITTFL, SAFFL, EFFFL)."""
        if self.adsl.empty:
            return set()
        return set(self.adsl.loc[self.adsl[flag] == "Y", "USUBJID"])

    @property
    def randomised(self) -> bool:
        """More than one arm: analyses are by arm as well as overall."""
        return len(self.arms) > 1

    @property
    def reference_arm(self) -> StudyArm | None:
        if not self.arms:
            return None
        return next((a for a in self.arms if a.reference), self.arms[0])

    def for_arms(self, *armcds: str) -> StudyData:
        """The same study restricted to the subjects ADSL assigns to `armcds`
        (ARMCD, the planned arm): every adam table keeps those subjects' rows."""
        adsl = self.adsl
        members = set() if adsl.empty else set(adsl.loc[adsl["ARMCD"].isin(armcds), "USUBJID"])

        def of(df: pd.DataFrame) -> pd.DataFrame:
            return df[df["USUBJID"].isin(members)].reset_index(drop=True) if "USUBJID" in df else df

        tables = {name: of(getattr(self, name)) for name in ("adsl", "adrs", "adtte", "adae", "adcp", "adgf")}
        arms = tuple(a for a in self.arms if a.armcd in armcds)
        return StudyData(self.study, **tables, arms=arms)


def read_arms(con) -> pd.DataFrame:
    """config.study_arms (STUDYID ARMCD ARM ARMN REFERENCE) in study-file order;
    empty when the warehouse has no such table."""
    if not table_exists(con, "config", "study_arms"):
        return pd.DataFrame(columns=ARM_CONFIG_COLUMNS)
    return con.sql("SELECT * FROM config.study_arms ORDER BY STUDYID, ARMN").df()


def _is_true(value) -> bool:
    """A BOOLEAN read from DuckDB: NULL (NaN/None/NA) is not true."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


def study_arms(arms: pd.DataFrame, adsl: pd.DataFrame, study: str) -> tuple[StudyArm, ...]:
    """The study's configured arms in study-file order. Without a configuration
    (a warehouse written by hand): the distinct ADSL arms, ordered by ARMCD, the
    first being the reference."""
    configured = arms[arms["STUDYID"] == study] if not arms.empty else arms
    if not configured.empty:
        return tuple(
            StudyArm(str(r["ARMCD"]), str(r["ARM"]), _is_true(r.get("REFERENCE"))) for _, r in configured.iterrows()
        )
    if adsl.empty or "ARMCD" not in adsl:
        return ()
    seen = adsl[adsl["STUDYID"] == study][["ARMCD", "ARM"]].dropna(subset=["ARMCD"]).drop_duplicates("ARMCD")
    return tuple(StudyArm(str(r["ARMCD"]), str(r["ARM"])) for _, r in seen.sort_values("ARMCD").iterrows())


def study_ids(con, adsl: pd.DataFrame) -> list[str]:
    """Studies in adam.adsl plus every configured study (a configured study with
    no subjects yet still gets its endpoint rows, all with N = 0)."""
    ids = set(adsl["STUDYID"].dropna()) if not adsl.empty else set()
    if table_exists(con, "config", "studies"):
        ids |= {r[0] for r in con.execute("SELECT STUDYID FROM config.studies").fetchall()}
    return sorted(ids)


def read_study(con, study: str, arms: pd.DataFrame) -> StudyData:
    """One study's adam tables, read from the warehouse study by study."""
    tables = {t: read_adam(con, t, study) for t in (*REQUIRED_TABLES, "adcp")}
    tables["adgf"] = read_adam(con, "adgf", study, text_as_categories=True)  # the big one
    return StudyData(study, **tables, arms=study_arms(arms, tables["adsl"], study))


def clean(value):
    """NaN/inf/pandas NA → None, numpy scalars → Python, so the warehouse gets NULL."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) or hasattr(value, "dtype"):
        value = value.item() if hasattr(value, "item") else value
        if isinstance(value, float) and not math.isfinite(value):
            return None
    return value


def typed_rows(con, columns: dict[str, str], rows: list[dict]):
    """``rows`` as an Arrow table of exactly ``columns`` (name → DuckDB type),
    cast by DuckDB on ``con`` (any connection: nothing is written to it).

    Columns are cast explicitly so an empty result still has the contract's
    types (pandas would otherwise infer object/NULL columns). Arrow, not a list
    of dicts, is what goes between processes and is kept until the write: a
    study's gene-change rows take a fraction of the memory."""
    frame = pd.DataFrame([{c: clean(r.get(c)) for c in columns} for r in rows], columns=list(columns), dtype=object)
    select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns.items())
    con.register("_endpoint_rows", frame)
    try:
        return con.sql(f"SELECT {select} FROM _endpoint_rows").to_arrow_table()
    finally:
        con.unregister("_endpoint_rows")


def write_table(con, name: str, columns: dict[str, str], parts: list) -> int:
    """CREATE OR REPLACE `name` from ``parts`` (``typed_rows`` tables, in order)."""
    import pyarrow as pa

    table = pa.concat_tables(parts) if parts else typed_rows(con, columns, [])
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}")
    con.register("_endpoint_rows", table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _endpoint_rows")
    finally:
        con.unregister("_endpoint_rows")
    return table.num_rows
