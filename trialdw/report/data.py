"""Everything one study's report shows, read from the warehouse (read-only).

The report derives nothing that the warehouse already derives: endpoints, KM
curves, AE counts and cell-type statistics come from analysis.*; responses and
dates from adam.*; target-lesion sums from dbt's intermediate.int_tr_target_sums
(the RECIST sum rule lives there, not here). What the report computes itself
(best % change per subject, swimmer timelines) is in the plot modules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialdw.warehouse import table_exists

# The population flags the report counts (page.population_counts), in its order.
POPULATION_FLAGS = ("ITTFL", "SAFFL", "EFFFL")


@dataclass(frozen=True)
class StudyReportData:
    study: str
    title: str
    data_cutoff: dt.date | None
    transfers: pd.DataFrame  # audit.transfers CURRENT = 'Y': SITEID TRANSFER_ID EXPORTED_AT RECEIVED_AT
    endpoints: pd.DataFrame
    km_curves: pd.DataFrame
    ae_by_term: pd.DataFrame
    celltype_change: pd.DataFrame
    adsl: pd.DataFrame
    adrs: pd.DataFrame
    adcp: pd.DataFrame
    target_sums: pd.DataFrame | None  # None: the warehouse has no int_tr_target_sums
    ae_by_soc: pd.DataFrame = field(default_factory=pd.DataFrame)
    arms: tuple[tuple[str, str], ...] = ()  # (ARMCD, ARM) in study-file order (config.study_arms)

    @property
    def single_cell(self) -> bool:
        return not self.adcp.empty or not self.celltype_change.empty

    @property
    def randomised(self) -> bool:
        """More than one arm: the analysis tables have per-arm rows (docs/endpoints.md, Arms)."""
        return len(self.arms) > 1

    def all_subjects(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of an analysis table about all the study's subjects (ARMCD NULL)."""
        if table.empty or "ARMCD" not in table:
            return table
        return table[table["ARMCD"].isna()]

    def of_arm(self, table: pd.DataFrame, armcd: str) -> pd.DataFrame:
        if table.empty or "ARMCD" not in table:
            return table.iloc[0:0]
        return table[table["ARMCD"] == armcd]


def _study_rows(con, schema: str, table: str, study: str, order: str = "", columns: str = "*") -> pd.DataFrame | None:
    if not table_exists(con, schema, table):
        return None
    sql = f'SELECT {columns} FROM {schema}."{table}" WHERE STUDYID = ?' + (f" ORDER BY {order}" if order else "")
    return con.execute(sql, [study]).df()


def _or_empty(frame: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if frame is None else frame


def study_ids(con) -> list[str]:
    """Configured studies plus any study with subjects (a study with no data yet
    still gets a page, mostly saying so)."""
    ids: set[str] = set()
    if table_exists(con, "config", "studies"):
        ids |= {r[0] for r in con.execute("SELECT STUDYID FROM config.studies").fetchall()}
    if table_exists(con, "adam", "adsl"):
        ids |= {r[0] for r in con.execute("SELECT DISTINCT STUDYID FROM adam.adsl").fetchall()}
    return sorted(i for i in ids if i is not None)


def _study_header(con, study: str) -> tuple[str, dt.date | None, pd.DataFrame]:
    """The study's title and data cut-off (config.studies) and its sites' current
    transfers (audit.transfers CURRENT = 'Y')."""
    title, cutoff = "", None
    if table_exists(con, "config", "studies"):
        row = con.execute("SELECT TITLE, DATA_CUTOFF FROM config.studies WHERE STUDYID = ?", [study]).fetchall()
        if row:
            title, cutoff = row[0][0] or "", row[0][1]
    transfers = pd.DataFrame()
    if table_exists(con, "audit", "transfers"):
        transfers = con.execute(
            """SELECT SITEID, TRANSFER_ID, EXPORTED_AT, RECEIVED_AT FROM audit.transfers
               WHERE STUDYID = ? AND CURRENT = 'Y' ORDER BY SITEID""",
            [study],
        ).df()
    return title, cutoff, transfers


def read_study(con, study: str) -> StudyReportData:
    title, cutoff, transfers = _study_header(con, study)
    return StudyReportData(
        study=study,
        title=title,
        data_cutoff=cutoff,
        transfers=transfers,
        endpoints=_or_empty(_study_rows(con, "analysis", "endpoints", study)),
        km_curves=_or_empty(_study_rows(con, "analysis", "km_curves", study, "PARAMCD, TIME")),
        ae_by_term=_or_empty(_study_rows(con, "analysis", "ae_by_term", study)),
        celltype_change=_or_empty(_study_rows(con, "analysis", "celltype_change", study, "CPTESTCD")),
        adsl=_or_empty(_study_rows(con, "adam", "adsl", study, "USUBJID")),
        adrs=_or_empty(_study_rows(con, "adam", "adrs", study, "USUBJID, PARAMCD, ADT")),
        adcp=_or_empty(_study_rows(con, "adam", "adcp", study, "USUBJID, PARAMCD, ADT")),
        target_sums=_study_rows(con, "intermediate", "int_tr_target_sums", study, "USUBJID, ADT"),
        ae_by_soc=_or_empty(_study_rows(con, "analysis", "ae_by_soc", study)),
        arms=_arms(con, study),
    )


@dataclass(frozen=True)
class StudyListing:
    """What the index page lists of a study: a line, not its report."""

    study: str
    title: str
    transfers: pd.DataFrame  # as StudyReportData.transfers
    adsl: pd.DataFrame  # the population flags only (page.population_counts)


def read_listings(db_path: Path) -> list[StudyListing]:
    """Every study of the warehouse file (``study_ids``) as the index lists it.
    Reads the population flags, not the study's tables: the index of a
    portfolio is written each night that publishes, whatever changed."""
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        listings = []
        for study in study_ids(con):
            title, _, transfers = _study_header(con, study)
            flags = _study_rows(con, "adam", "adsl", study, columns=", ".join(POPULATION_FLAGS))
            listings.append(StudyListing(study, title, transfers, _or_empty(flags)))
        return listings


def _arms(con, study: str) -> tuple[tuple[str, str], ...]:
    if not table_exists(con, "config", "study_arms"):
        return ()
    rows = con.execute("SELECT ARMCD, ARM FROM config.study_arms WHERE STUDYID = ? ORDER BY ARMN", [study]).fetchall()
    return tuple((armcd, arm) for armcd, arm in rows)


def all_study_ids(db_path: Path) -> list[str]:
    """``study_ids`` of the warehouse file, opened read-only."""
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        return study_ids(con)


def read_warehouse(db_path: Path, studies: list[str] | None = None) -> list[StudyReportData]:
    """The studies of the warehouse file (``studies``: only those), opened
    read-only (a report never writes, and read-only lets it run beside readers
    of the published file)."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        wanted = study_ids(con) if studies is None else sorted(set(studies))
        return [read_study(con, study) for study in wanted]
    finally:
        con.close()
