"""Building the studies a night must rebuild, each able to fail on its own.

The studies that changed are built together in one private DuckDB file (a
*build file*): their current rows from the history store, their configuration,
then ``dbt build`` (models and data tests), the endpoint statistics and the
readiness checks. Building them together pays dbt's per-node overhead once.

Failure stays with the study that caused it:
1. dbt fails for a group of several studies → each study is built again on its
   own, and only the ones that fail alone are held back;
2. readiness checks attribute every failure to the study whose rows fail it
   (trialdw.readiness re-validates a failing table study by study);
3. the endpoint statistics run study by study; an error holds back that study.
A study that is held back keeps its previously published tables.

Every build file is ``<work>/<group>/build.duckdb``: dbt-duckdb names the
database after the file, so the night's one parsed manifest serves them all.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb

from trialdw import history
from trialdw.dbt_runner import BUILD_FILE_NAME, DbtSession, Progress
from trialdw.ingest.load import ensure_audit
from trialdw.study_config import write_config_tables

# DuckDB may use this much memory per connection before spilling to disk: the
# night stays well inside the machine's memory at portfolio scale. The first
# night's peak is in the dbt build (docs/architecture.md, "Memory"); at 1 GB it
# was 1.97-2.02 GB of the 2 GB budget, at 768 MB 1.74-1.75 GB with the same
# build time (the bench's 10 studies: 14.5-15.4 s against 14.6 s).
MEMORY_LIMIT = "768MB"

# The dbt models only single-cell data (CP, GF) feed carry this tag in
# dbt_project.yml, the ADaM tables they make included (adcp, adgf). A group of
# studies none of which has single-cell data skips them on a night that carries
# last night's tables over: its studies have no rows in them, and the published
# file keeps the tables, with the carried studies' rows (trialdw.publish).
# ~25 % of a one-study build's dbt nodes.
SINGLE_CELL_TAG = "single_cell"


@dataclass
class StudyResult:
    """How one study's build went."""

    study: str
    ok: bool
    reason: str | None = None  # why held back
    build_file: Path | None = None  # where its tables are
    step: str | None = None  # the step that held it back


@dataclass
class GroupBuild:
    """One build file and the studies in it."""

    studies: list[str]
    build_file: Path
    dbt_ok: bool = False
    dbt_summary: str = ""
    dbt_failures: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # where the build's time went (the Spark engine)
    skipped_tables: tuple[str, ...] = ()  # adam tables this build did not make (tagged SINGLE_CELL_TAG)


def connect(path: Path, work_dir: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that spills to ``work_dir`` instead of growing without bound."""
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET temp_directory = ?", [str(Path(work_dir) / "duckdb-tmp")])
    con.execute("SET preserve_insertion_order = true")
    return con


def _quoted(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) or "NULL"


def prepare_build_file(history_path: Path, build_file: Path, studies: dict, contracts: dict) -> dict[str, int]:
    """A new build file holding ``studies``' configuration, their sites' current
    transfers (audit.transfers) and current rows (raw.<domain>, all 12 domains).
    Returns rows per domain."""
    build_file.parent.mkdir(parents=True, exist_ok=True)
    build_file.unlink(missing_ok=True)
    ids = sorted(studies)
    rows = {}
    with connect(build_file, build_file.parent) as con:
        con.execute("ATTACH ? AS hist (READ_ONLY)", [str(history_path)])
        write_config_tables(con, studies)
        ensure_audit(con)
        con.execute(f"INSERT INTO audit.transfers SELECT * FROM hist.audit.transfers WHERE STUDYID IN ({_quoted(ids)})")
        for contract in contracts.values():
            table = history.raw_view(contract.domain)
            sql = history.current_rows_sql(contract, ids, catalog="hist")
            con.execute(f"CREATE TABLE {table} AS {sql}")
            rows[contract.domain] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        con.execute("DETACH hist")
    return rows


def build_group(
    session: DbtSession, history_path: Path, folder: Path, studies: dict, contracts: dict,
    progress: Progress | None = None, carried_single_cell: bool = False,
) -> GroupBuild:  # fmt: skip
    """Prepare one build file for ``studies`` and run dbt on it.
    ``carried_single_cell``: last night's file supplies the single-cell tables
    (studies are carried over): a group without single-cell data skips them."""
    build = GroupBuild(sorted(studies), folder / BUILD_FILE_NAME)
    build.rows = prepare_build_file(history_path, build.build_file, studies, contracts)
    exclude = ()
    if carried_single_cell and not any(config.single_cell for config in studies.values()):
        from trialdw.submission.metadata import adam_models_tagged

        exclude, build.skipped_tables = (f"tag:{SINGLE_CELL_TAG}",), adam_models_tagged(SINGLE_CELL_TAG)
    result = session.build(build.build_file, nightly=True, progress=progress, exclude=exclude)
    build.dbt_ok, build.dbt_summary, build.dbt_failures = result.success, result.summary(), result.failures
    return build


def build_with_isolation(
    session: DbtSession, history_path: Path, work_dir: Path, studies: dict, contracts: dict,
    progress: Progress | None = None, log=print, build=None, carried_single_cell: bool = False,
) -> list[GroupBuild]:  # fmt: skip
    """dbt for all ``studies`` in one build file; when that fails and holds more
    than one study, each study is built again on its own (step 1 above).
    ``build``: how one group is built (default ``build_group``, given
    ``carried_single_cell``; the Spark engine passes its own,
    trialdw.engines.spark.build_group)."""
    if not studies:
        return []
    build_group_ = build or partial(build_group, carried_single_cell=carried_single_cell)
    group = build_group_(session, history_path, work_dir / "all", studies, contracts, progress)
    if group.dbt_ok or len(studies) == 1:
        return [group]
    log(f"dbt failed for {len(studies)} studies built together ({group.dbt_failures[0]}); building each on its own")
    shutil.rmtree(group.build_file.parent, ignore_errors=True)
    groups = []
    for study in sorted(studies):
        folder = work_dir / f"study-{study}"
        groups.append(build_group_(session, history_path, folder, {study: studies[study]}, contracts, progress))
    return groups
