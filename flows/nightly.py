"""The nightly run of trialdw, told in order.

Pull the new transfers from the sites' drop zones (when a sources file is
given), pick up the site exports that arrived and load each one, study by study, into
the history store (every transfer checked as a whole, every row against its
data contract, bad rows quarantined with reasons). Then find the studies whose
inputs changed, and only those: build their ADaM tables with dbt, compute
their endpoints, check they are fit for analysis. A study that fails its
checks is held back with the reason and keeps yesterday's tables; every other
study is published. Publishing writes a new file of current data and swaps it
in atomically, so a statistician's query never meets a half-built warehouse.

A night with nothing new builds nothing and publishes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from contextlib import ExitStack
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import wait as futures_wait
from prefect.runtime import flow_run

from trialdw import dbt_worker, parallel
from trialdw import warehouse as wh
from trialdw.ingest.types import TransferRef
from trialdw.ops import notify, runlog, testhook
from trialdw.ops.retry import TRANSIENT_RETRIES
from trialdw.run_summary import RunFailed, StepTimer, contract_versions, night_summary
from trialdw.study_config import load_studies
from trialdw.study_plan import BUILD, CARRY, HOLD, StudyPlan

# Retries only where a failure can be transient (file I/O, DuckDB file locks):
# see trialdw/ops/retry.py. dbt, endpoints and readiness failures are about
# the data or the code and are never retried; a rejected transfer is an
# outcome, not an exception.


@task(name="pull from sites")
def pull_from_sites(sources: str, landing: str) -> dict:
    """Copy every new complete transfer from the sources file's drop zones into the
    landing (trialdw.pull). Never fails the night for a site: a source that cannot
    be reached is a ``failed`` outcome in the summary. Retries are inside (per
    connection and transfer, transient network faults only)."""
    from trialdw.pull import load_sources, pull_sources
    from trialdw.pull.progress import Progress

    logger = get_run_logger()
    report = pull_sources(load_sources(Path(sources)), Path(landing), Progress(emit=logger.info))
    logger.info("pulled from sites: %s", report.summary())
    return report.as_dict()


@task(name="record pull outcomes", **TRANSIENT_RETRIES)
def record_pulls(warehouse: str, pulled: dict, run_id: str) -> None:
    """audit.pulls and the refusals' findings, in one transaction of the history store."""
    from trialdw.ingest.contracts import load_contracts
    from trialdw.pull import PullReport, record_pull_outcomes

    con = wh.open_history(wh.WarehousePaths(Path(warehouse)), load_contracts())
    try:
        con.execute("BEGIN TRANSACTION")
        record_pull_outcomes(con, PullReport.from_dict(pulled), run_id)
        con.execute("COMMIT")
    finally:
        con.close()


@task(name="prepare", **TRANSIENT_RETRIES)
def prepare(warehouse: str) -> None:
    """Leftovers of a killed run go; the history store opens (rolling back a
    transfer a killed run left half-loaded) with its schemas in place."""
    from trialdw.ingest.contracts import load_contracts

    paths = wh.WarehousePaths(Path(warehouse))
    stale = wh.remove_stale_building_files(paths)
    if stale:
        get_run_logger().warning("removed %d leftover file(s) of an interrupted run", len(stale))
    wh.open_history(paths, load_contracts()).close()


@task(name="discover transfers", **TRANSIENT_RETRIES)
def discover_transfers(landing: str) -> list[TransferRef]:
    from trialdw.ingest.transfers import discover

    found = discover(Path(landing))
    get_run_logger().info("found %d transfer folder(s) under %s", len(found), landing)
    return found


@task(name="ingest")
def ingest(warehouse: str, refs: list[TransferRef], studies_dir: str | None, run_id: str) -> list[dict]:
    """Every transfer, study by study, in TRANSFER_ID order per site, each in its
    own transaction; the next one is checked and validated while one loads
    (trialdw.ingest.landing.ingest_transfers). An unexpected error stops that
    study's ingest, not the night: one summary per study, with its error."""
    from trialdw.ingest.contracts import load_contracts
    from trialdw.ingest.landing import ingest_transfers

    logger = get_run_logger()
    paths = wh.WarehousePaths(Path(warehouse))
    contracts = load_contracts()
    ingested = {ref.study: {"study": ref.study, "transfers": [], "error": None} for ref in refs}
    con = wh.open_history(paths, contracts)
    transfers = ingest_transfers(con, refs, load_studies(studies_dir), contracts, paths.work / run_id, run_id)
    try:
        for ref, outcome, summary in transfers:
            if isinstance(outcome, Exception):
                error = f"ingest of {ref.relpath} failed: {runlog.one_line(outcome)}"
                ingested[ref.study]["error"] = error
                logger.error("%s", error)
                continue
            logger.info(
                "%s: %s (%d rows loaded, %d quarantined)",
                ref.relpath,
                outcome,
                summary.rows_loaded,
                summary.rows_quarantined,
            )
            ingested[ref.study]["transfers"].append(
                {
                    "transfer": ref.relpath,
                    "outcome": outcome,
                    "new": outcome not in ("skipped", "conflict") and not summary.already_incomplete,
                    "rows_loaded": summary.rows_loaded,
                    "rows_quarantined": summary.rows_quarantined,
                }
            )
    finally:
        transfers.close()  # waits for a look-ahead validation still running
        con.close()
    return [ingested[study] for study in sorted(ingested)]


@task(name="plan the night")
def plan_night(
    warehouse: str, studies_dir: str | None, readiness_contract: str | None, spark: dict | None = None
) -> list[StudyPlan]:
    """Which studies changed since their tables were published (trialdw.study_plan).
    On Spark, since the tables the Spark warehouse publishes were built
    (its audit.study_builds, read as Parquet)."""
    from trialdw.readiness import DEFAULT_CONTRACT
    from trialdw.study_plan import (
        code_fingerprint,
        current_transfers,
        file_fingerprint,
        plan_studies,
        read_study_builds,
    )

    paths = wh.WarehousePaths(Path(warehouse))
    import duckdb

    with duckdb.connect(str(paths.history), read_only=True) as con:
        transfers = current_transfers(con)
    if spark:
        from trialdw.engines import spark as spark_engine

        previous = spark_engine.read_study_builds(Path(spark["warehouse_dir"]))
    else:
        previous = read_study_builds(paths.published)
    plans = plan_studies(
        load_studies(studies_dir),
        transfers,
        previous,
        code_fingerprint(),
        file_fingerprint(Path(readiness_contract or DEFAULT_CONTRACT)),
    )
    for plan in plans:
        get_run_logger().info("%s: %s (%s)", plan.study, plan.action, plan.why)
    return plans


@task(name="dbt build")
def build_studies(
    warehouse: str, run_id: str, studies_dir: str | None, to_build: list[str], spark: dict | None = None,
    write_json: bool = True, carried_single_cell: bool = False,
) -> list[dict]:  # fmt: skip
    """The changed studies' current rows into a build file, then dbt (models and
    data tests); a failing group is built again study by study. On Spark
    (``spark``: trialdw.engines.spark.SparkSettings), dbt builds the group's
    tables in Spark, in the group's own schemas. ``write_json``: False when no
    lineage page will be written tonight (dbt's artifacts are its input; the
    Spark engine writes them always, and writes no lineage page).
    ``carried_single_cell``: studies are carried over from last night's file,
    which so keeps the single-cell tables: a group without single-cell data
    skips their models (trialdw.study_build.SINGLE_CELL_TAG; DuckDB only)."""
    from trialdw.dbt_runner import DbtSession
    from trialdw.ingest.contracts import load_contracts
    from trialdw.study_build import build_with_isolation

    logger = get_run_logger()
    paths = wh.WarehousePaths(Path(warehouse))
    studies = {s: c for s, c in load_studies(studies_dir).items() if s in to_build}
    progress = _dbt_progress(logger)
    if spark:
        from functools import partial

        from trialdw.engines import spark as spark_engine

        # Its own dbt target folder: partial parse stays valid for each engine.
        session = DbtSession(paths.dbt_state.with_name(paths.dbt_state.name + "-spark"), target="spark")
        groups = build_with_isolation(
            session, paths.history, paths.builds, studies, load_contracts(), progress, log=logger.warning,
            build=partial(spark_engine.build_group, spark),
        )  # fmt: skip
        return [_group_summary(group, logger) for group in groups]
    session = DbtSession(paths.dbt_state, write_json=write_json, log=logger.warning)
    if testhook.pausing_at("dbt"):
        # Test-only: leave half of the dbt graph built in a build file, then wait to be killed.
        from trialdw.study_build import prepare_build_file

        half = paths.builds / "all" / "build.duckdb"
        prepare_build_file(paths.history, half, studies, load_contracts())
        session.build(half, select="staging", nightly=True)
        testhook.pause_here("dbt")
    worker = dbt_worker.current()
    if worker is not None:  # dbt is imported and ready in the night's dbt process
        groups = worker.build_with_isolation(
            paths.history, paths.builds, studies, load_contracts(), progress, log=logger.warning,
            write_json=write_json, carried_single_cell=carried_single_cell,
        )  # fmt: skip
    else:
        groups = build_with_isolation(
            session, paths.history, paths.builds, studies, load_contracts(), progress, log=logger.warning,
            carried_single_cell=carried_single_cell,
        )  # fmt: skip
    return [_group_summary(group, logger) for group in groups]


def _group_summary(group, logger) -> dict:
    logger.info("dbt (%s): %s", ", ".join(group.studies), group.dbt_summary)
    return {
        "studies": group.studies,
        "build_file": str(group.build_file),
        "dbt_ok": group.dbt_ok,
        "dbt_summary": group.dbt_summary,
        "failures": list(group.dbt_failures),
        "rows": group.rows,
        "skipped_tables": list(group.skipped_tables),
        **({"seconds": group.seconds} if group.seconds else {}),
    }


def lineage_written_by() -> str:
    """The stamp of a lineage page this code would write: the study plan's code
    fingerprint and the installed dbt-core's version (read without importing dbt)."""
    from importlib.metadata import version as package_version

    from trialdw.study_plan import code_fingerprint

    return f"code {code_fingerprint()}, dbt {package_version('dbt-core')}\n"


def lineage_is_current(reports_dir: Path, written_by: str) -> bool:
    """Does ``<reports>/lineage`` hold a page with the stamp ``written_by``?"""
    folder = Path(reports_dir) / "lineage"
    stamp = folder / "written-by.txt"
    return (folder / "index.html").is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == written_by


@task(name="write lineage docs")
def write_lineage_docs(warehouse: str, build_file: str, reports_dir: str, written_by: str) -> str | None:
    """dbt's docs (models, analysis sources, columns, tests, lineage graph) as one
    page that opens from disk: ``<reports>/lineage/index.html``. Documentation never
    holds back a study: on failure the previous night's page stays (carried over
    with the reports folder) and the night goes on.

    The page documents the code, not the data (every night builds every model,
    into a file of the same name), so a page written by this code version and
    dbt version (``written_by``, the stamp beside it, taken before the build) is
    carried over as it is; the build then wrote no artifacts for it."""
    from trialdw.dbt_runner import DbtSession

    folder = Path(reports_dir) / "lineage"
    stamp = folder / "written-by.txt"
    if lineage_is_current(Path(reports_dir), written_by):
        get_run_logger().info("lineage docs: last night's page stays (same %s)", written_by.strip())
        return str(folder / "index.html")
    try:
        stamp.unlink(missing_ok=True)
        worker = dbt_worker.current()
        if worker is not None:
            page = worker.docs(Path(build_file), folder)
        else:
            page = DbtSession(wh.WarehousePaths(Path(warehouse)).dbt_state).docs(Path(build_file), folder)
    except Exception as exc:
        get_run_logger().warning("lineage docs not written (last night's stay): %s", runlog.one_line(exc))
        return None
    stamp.write_text(written_by, encoding="utf-8")
    return str(page)


@task(name="compute endpoints", task_run_name="endpoints {build_file}")
def compute_endpoints(build_file: str, spark: dict | None = None) -> dict:
    """The endpoint statistics of one build group. On Spark the group's ADaM
    tables are read from Spark first, and analysis.* goes back (trialdw.engines.spark)."""
    if spark:
        from trialdw.engines import spark as spark_engine

        result = spark_engine.compute_endpoints(spark, Path(build_file))
    else:
        from trialdw.endpoints import compute_all

        result = compute_all(Path(build_file))
    for study, error in result.errors.items():
        get_run_logger().error("%s: endpoint statistics failed: %s", study, error)
    return {"studies": list(result.studies), "table_rows": result.table_rows, "errors": result.errors}


@task(name="analysis-readiness checks")
def check_readiness(
    build_file: str, studies: list[str], docs_dir: str, contract: str | None, run_id: str, failed_runs: str,
    skipped_tables: tuple[str, ...] = (),
) -> dict:  # fmt: skip
    """GX on the build file; a failure holds back the study whose rows fail it.
    Failed results are also copied to ``failed_runs/<run_id>/readiness/`` (a
    later night replaces the reports folder) and the reason says where.
    ``skipped_tables``: tables the build did not make (none of its studies has
    rows in them), whose checks do not run."""
    from trialdw.readiness import DEFAULT_CONTRACT, keep_failed_results, run_readiness_checks

    # In the night's warm child when there is one: GX is imported there already.
    result = parallel.in_worker(
        run_readiness_checks, Path(build_file), Path(docs_dir), Path(contract or DEFAULT_CONTRACT), run_name=run_id,
        skipped_tables=tuple(skipped_tables),
    )  # fmt: skip
    held_back = result.held_back(studies)
    if held_back and result.docs_index:
        kept = keep_failed_results(Path(docs_dir), Path(failed_runs), run_id)
        held_back = {study: f"{reason} (results: {kept})" for study, reason in held_back.items()}
    return {
        "held_back": held_back,
        "failures": result.failures,
        "docs_index": str(result.docs_index) if result.docs_index else None,
        "seconds": result.statistics.get("seconds"),
    }


@task(name="record query states", **TRANSIENT_RETRIES)
def record_query_states(building: str, annotations: str, run_id: str) -> dict:
    """The data managers' query states into the file about to be published: automatic entries
    (resolved by data, re-opened) into the annotation store, then audit.finding_annotations and
    the STATE columns of audit.findings (trialdw.review_app.state_sync). Idempotent, so a retry is safe."""
    import duckdb

    from trialdw.review_app.annotations import AnnotationStore
    from trialdw.review_app.state_sync import sync_states, write_annotation_tables

    store = AnnotationStore(Path(annotations)).create()
    with duckdb.connect(building) as con:
        synced = sync_states(store, con, run_id)
        entries = write_annotation_tables(con, store)
    get_run_logger().info("query states: %s; %d annotation(s) in the warehouse", synced.describe(), entries)
    return {"closed_by_data": synced.closed, "reopened": synced.reopened, "annotations": entries}


@task(name="record data-review findings")
def record_review_findings(warehouse: str, build_file: str, studies: list[str]) -> int:
    """Cross-record problems dbt found go to the data managers with a life cycle
    (only for the studies published from this build)."""
    from trialdw.data_review import merge_review_findings
    from trialdw.ingest.contracts import load_contracts

    con = wh.open_history(wh.WarehousePaths(Path(warehouse)), load_contracts())
    try:
        con.execute("ATTACH ? AS build (READ_ONLY)", [build_file])
        con.execute("BEGIN TRANSACTION")
        merged = merge_review_findings(con, source="build.data_review.findings", studies=studies)
        con.execute("COMMIT")
        con.execute("DETACH build")
    finally:
        con.close()
    get_run_logger().info("%d data-review finding(s) in the current data of %s", merged, ", ".join(studies))
    return merged


@task(name="write study reports")
def write_study_reports(build_file: str, reports_dir: str, studies: list[str]) -> list[str]:
    from trialdw.report import write_reports

    return [str(p) for p in write_reports(Path(build_file), Path(reports_dir) / "study-reports", studies=studies)]


@task(name="start from last night's file", **TRANSIENT_RETRIES)
def start_from_last_night(warehouse: str, run_id: str, keep: list[str]) -> str | None:
    """While dbt builds: tonight's file begun as a copy of last night's with
    only the carried studies' rows (trialdw.publish.start_from_last_night);
    its path, or None when it could not be begun (the assemble copies then)."""
    from trialdw.publish import start_from_last_night as start

    paths = wh.WarehousePaths(Path(warehouse))
    base = paths.building_base(run_id)
    return str(base) if start(base, paths.published, keep, paths.work / run_id) else None


@task(name="assemble the warehouse", **TRANSIENT_RETRIES)
def assemble(
    warehouse: str, run_id: str, studies_dir: str | None, carried: list[str], built: dict,
    base: str | None = None, base_holds: list[str] | None = None, audit: bool = True,
) -> str:  # fmt: skip
    """The new published file, privately: current data only (trialdw.publish).
    ``base``: the copy start_from_last_night began, holding ``base_holds``' rows.
    ``audit``: False leaves the audit trail for ``add_audit``."""
    from trialdw.publish import Sources
    from trialdw.publish import assemble as assemble_file

    paths = wh.WarehousePaths(Path(warehouse))
    building = paths.building(run_id)
    sources = Sources(
        history=paths.history,
        previous=paths.published if paths.published.is_file() else None,
        carried=carried,
        built={Path(f): ids for f, ids in built.items()},
        base=Path(base) if base else None,
        base_holds=list(base_holds or []),
    )
    rows = assemble_file(building, sources, load_studies(studies_dir), paths.work / run_id, audit=audit)
    get_run_logger().info("assembled %s: %d tables", building.name, len(rows))
    return str(building)


@task(name="add the audit trail", **TRANSIENT_RETRIES)
def add_audit(building: str, warehouse: str, run_id: str) -> None:
    """The history store's audit trail (tonight's data-review findings included)
    into a file assembled before the data review."""
    from trialdw.publish import add_audit as add

    paths = wh.WarehousePaths(Path(warehouse))
    add(Path(building), paths.history, paths.work / run_id)


def _assembled_early(early: tuple | None, built: dict, carried: list[str]) -> str | None:
    """The file assembled while the checks ran, when the checks published what it
    assumed (the same studies from the same build file, the same carried over);
    None otherwise (a study held back by its checks: the night assembles again,
    and the file written early is replaced)."""
    if early is None:
        return None
    future, early_built, early_carried = early
    try:
        building = future.result()
    except Exception as exc:
        get_run_logger().warning("assembling during the checks failed; assembling again: %s", runlog.one_line(exc))
        return None
    return building if early_built == built and early_carried == carried else None


@task(name="write the review page")
def write_review(building: str, reports_dir: str, previous: str, run_id: str) -> dict:
    from trialdw.report import write_index
    from trialdw.review_app import write_review_page

    review = write_review_page(
        Path(building), Path(reports_dir), previous_db=Path(previous), run_id=run_id, warehouse_name=Path(previous).name
    )
    write_index(Path(building), Path(reports_dir) / "study-reports")
    return {
        "review_page": str(review.html_path),
        "findings_csv": str(review.csv_path),
        "review_markdown": review.markdown,
        "review_counts": review.counts.as_dict(),
    }


@task(name="record run history", **TRANSIENT_RETRIES)
def record_run_history(
    building: str, run_log: str, run_id: str, ended_at: dt.datetime, message: str, details: dict, study_builds: list
) -> None:
    """audit.runs (every run of the log, failed and interrupted ones too, and this
    one, completed) and audit.study_builds of the file about to be published."""
    import duckdb

    from trialdw.study_plan import write_study_builds

    records = runlog.RunLog(Path(run_log)).records(running=run_id)
    for record in records:
        if record.run_id == run_id:
            record.ended_at, record.status, record.message = ended_at, runlog.COMPLETED, message
            record.details = {**record.details, **details}
    with duckdb.connect(building) as con:
        runlog.write_runs_table(con, records)
        write_study_builds(con, study_builds)


@task(name="publish to Spark")
def publish_to_spark(spark: dict, building: str, built: dict, carried: list[str]) -> list[str]:
    """The Spark warehouse's published tables: every new table written beside
    the published one, then swapped in table by table (trialdw.engines.spark.publish);
    then the night's build schemas go."""
    from trialdw.engines import spark as spark_engine

    by_prefix = {spark_engine.group_prefix(Path(f).parent.name): ids for f, ids in built.items()}
    tables = spark_engine.publish(spark, Path(building), by_prefix, carried)
    spark_engine.drop_group_schemas(spark_engine.session(spark))
    get_run_logger().info("published %d Spark tables under %s", len(tables), spark["warehouse_dir"])
    return tables


@task(name="publish", **TRANSIENT_RETRIES)
def publish(building: str, warehouse: str, reports_building: str) -> str:
    paths = wh.WarehousePaths(Path(warehouse))
    if Path(building).exists():  # on a retry the file may already have moved
        wh.publish(Path(building), paths)
    if Path(reports_building).exists():
        wh.replace_folder(Path(reports_building), paths.reports)
    return str(paths.published)


@task(name="write Parquet, XPT, Dataset-JSON, define.xml", **TRANSIENT_RETRIES)
def write_exports(building: str, exports_dir: str, run_id: str, changed: list[str], published: str) -> dict:
    """Per-study Parquet, SAS XPT, Dataset-JSON and define.xml of tonight's file
    before it is published (its adam, analysis and config tables are final);
    studies not rebuilt keep last night's files (hard links), when last night's
    exports are those of the ``published`` warehouse (of the run that wrote it,
    trialdw.warehouse.published_by; else every study is written). They stay hidden
    until the file is published (``finish_exports``). The rebuilt studies are
    shared out over this process and the warm child (trialdw.parallel): one
    study is written in the child, while this process writes the review page."""
    from trialdw.exports import write_exports as write

    published_by = wh.published_by(Path(published))
    result = write(
        Path(building), Path(exports_dir), run_id, changed=set(changed), finish=False, published_by=published_by
    )
    if result.not_carried:
        get_run_logger().warning("exports: %s", result.not_carried)
    if result.unlabelled:  # every column should have a label in the dbt yml (docs/submission.md)
        get_run_logger().warning("exported without a label: %s", ", ".join(result.unlabelled[:10]))
    if result.non_ascii:
        get_run_logger().warning(
            "XPT: non-ASCII text kept as UTF-8 in %d variable(s): %s",
            len(result.non_ascii),
            ", ".join(result.non_ascii[:5]),
        )
    return {"exports": str(result.latest), "files": len(result.files), "carried": result.carried}


@task(name="publish the exports", **TRANSIENT_RETRIES)
def finish_exports(exports_dir: str, run_id: str) -> None:
    """Tonight's exports into place and ``latest`` pointed at them, once tonight's file is published."""
    from trialdw.exports import finish_exports as finish

    finish(Path(exports_dir), run_id)


@task(name="write the published warehouse's exports again", **TRANSIENT_RETRIES)
def write_published_exports(published: str, exports_dir: str, run_id: str, published_by: str) -> dict:
    """Every study's exports from the published file, read-only (nothing is
    carried: the exports under ``latest``, if any, are of an older warehouse)."""
    from trialdw.exports import write_exports as write

    result = write(Path(published), Path(exports_dir), run_id, changed=None, written_from=published_by)
    return {"exports": str(result.latest), "files": len(result.files), "carried": result.carried}


def _catch_up_exports(paths: wh.WarehousePaths, run_id: str, timer: StepTimer) -> dict | None:
    """On a night that publishes nothing: the exports written again from the
    published file when they are missing or written from another warehouse
    (the night that published it could not finish them), else None. A file
    older than audit.runs (no run known to have written it) is left as it is."""
    from trialdw.exports import latest_written_from

    published_by = wh.published_by(paths.published)
    behind = latest_written_from(paths.exports)
    if published_by is None or behind == published_by:
        return None
    get_run_logger().warning(
        "the exports are behind the published warehouse (written by run %s; latest: %s): writing them again",
        published_by,
        f"run {behind}'s warehouse" if behind else "none",
    )
    with timer("exports"):
        return write_published_exports(str(paths.published), str(paths.exports), run_id, published_by)


def _exported(future) -> tuple[dict | None, BaseException | None]:
    """The exports' result, or the error that stopped them: held until the
    warehouse is published (an export problem never keeps tonight's tables
    from statisticians), then raised."""
    try:
        return future.result(), None
    except Exception as exc:
        return None, exc


def _spark_settings(engine: str, master: str | None, warehouse_dir: str | None, paths) -> dict | None:
    """The Spark engine's settings (trialdw.engines.spark.SparkSettings as a dict), None on DuckDB."""
    if engine == "duckdb":
        return None
    if engine != "spark":
        raise RunFailed(f"unknown engine {engine!r}: duckdb or spark")
    from trialdw.engines import spark as spark_engine

    folder = Path(warehouse_dir) if warehouse_dir else paths.folder / "spark-warehouse"
    return spark_engine.SparkSettings(
        warehouse_dir=str(folder.resolve()), master=master or spark_engine.DEFAULT_MASTER
    ).as_dict()


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _dbt_progress(logger, every: int = 25):
    """dbt's progress, a line every ``every`` nodes and at the end."""

    def report(done: int, total: int, name: str, status: str) -> None:
        if done % every == 0 or done == total or status not in ("success", "pass"):
            logger.info("dbt %d/%d %s: %s", done, total, name, status)

    return report


def _fresh_reports_folder(paths: wh.WarehousePaths, run_id: str) -> Path:
    """This night's reports folder starts as a copy of the published one, so the
    pages of studies not rebuilt tonight are carried over."""
    folder = paths.reports_building(run_id)
    if paths.reports.is_dir():
        shutil.copytree(paths.reports, folder)
        for generated in ("run-summary.md", "review.html", "findings.csv"):
            (folder / generated).unlink(missing_ok=True)
    else:
        folder.mkdir(parents=True)
    return folder


def _check_built_studies(
    groups: list[dict], to_build: list[str], ingest_errors: dict, paths, reports: Path,
    readiness_contract: str | None, run_id: str, timer: StepTimer, spark: dict | None = None,
    assemble_early=None,
) -> tuple[dict, dict, dict, list, tuple | None]:  # fmt: skip
    """Per build group: endpoints, readiness, data review and study pages for the
    studies still standing. Returns (build file -> studies published from it,
    study -> hold-back reason or None, details for audit.runs, the last group's
    pages still being written: the night assembles meanwhile, they only read,
    and what ``assemble_early`` returned or None).

    ``assemble_early(built, held_back)``: with a single build group, called once
    its endpoint statistics are in, before its readiness checks, with the build
    file and studies that would be published if every check passed and the
    studies held back so far: the night starts assembling meanwhile.

    The groups' endpoint statistics run concurrently (the flow's thread pool:
    each group has its own build file and, on Spark, its own schemas); the
    readiness checks, the data review and the pages follow group by group (GX
    and matplotlib keep global state; the data review writes the history store).
    A group's pages are written while its data review is recorded: both only
    read the build file."""
    results: dict[str, str | None] = dict.fromkeys(to_build)  # study -> hold-back reason
    results.update(ingest_errors)
    details: dict = {"dbt": [], "endpoints": [], "readiness": []}
    built_files: dict[str, list[str]] = {}
    pending: list = []  # the pages of the group before, still being written
    early = None
    with timer("endpoints"):
        running = {g["build_file"]: compute_endpoints.submit(g["build_file"], spark) for g in groups if g["dbt_ok"]}
    for group in groups:
        details["dbt"].append(
            {k: group[k] for k in ("studies", "dbt_ok", "dbt_summary", "failures", "seconds") if k in group}
        )
        if not group["dbt_ok"]:
            results.update(dict.fromkeys(group["studies"], "dbt build failed: " + "; ".join(group["failures"][:3])))
            continue
        with timer("endpoints"):
            endpoints = running[group["build_file"]].result()
        details["endpoints"].append(endpoints)
        results.update({s: f"endpoint statistics failed: {e}" for s, e in endpoints["errors"].items()})
        standing = [s for s in group["studies"] if results[s] is None]
        if assemble_early is not None and len(groups) == 1 and standing:
            early = assemble_early({group["build_file"]: standing}, [s for s, r in results.items() if r is not None])
        with timer("reports"):  # the group before's pages first: one group at a time, as ever
            _wait_for(pending)
        pending = []
        with timer("readiness"):
            readiness = check_readiness(
                group["build_file"], standing, str(reports / "data-docs"), readiness_contract, run_id,
                str(paths.failed_runs), tuple(group["skipped_tables"]),
            )  # fmt: skip
        details["readiness"].append(readiness)
        results.update(readiness["held_back"])
        standing = [s for s in standing if results[s] is None]
        if standing:
            pending = [write_study_reports.submit(group["build_file"], str(reports), standing)]
            with timer("data review"):
                record_review_findings(str(paths.published), group["build_file"], standing)
            built_files[group["build_file"]] = standing
    return built_files, results, details, pending, early


def _carried_over(plans: list[StudyPlan], held_back) -> list[str]:
    """The studies whose published tables tonight's file keeps: unchanged, or held back."""
    return [p.study for p in plans if p.action in (CARRY, HOLD) or p.study in held_back]


def _begun(future) -> str | None:
    """The file start_from_last_night began, or None when it failed (the
    assemble then copies last night's file itself: nothing is lost)."""
    try:
        return future.result()
    except Exception as exc:
        get_run_logger().warning("tonight's file not begun during the build: %s", runlog.one_line(exc))
        return None


def _wait_for(futures: list) -> None:
    """Wait for Prefect task futures; the first failure is raised."""
    for future in futures:
        future.result()


@flow(name="trialdw-nightly")
def nightly(
    landing: str,
    warehouse: str,
    studies_dir: str | None = None,
    readiness_contract: str | None = None,
    notify_command: str | None = None,
    sources: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_warehouse: str | None = None,
) -> dict:
    """One night: every complete transfer under LANDING into the warehouse FILE.

    ``readiness_contract``: a readiness.yml other than data_contracts/readiness.yml.
    ``notify_command``: a command run when a study is held back or the run fails
    (trialdw.ops.notify says what it receives).
    ``sources``: the path of a sources file (never credentials: it references them);
    when given, the night first pulls the sites' new transfers into LANDING.
    ``engine``: ``duckdb`` (the default) or ``spark``: dbt, the endpoints'
    reads and the published tables on Spark (trialdw.engines.spark, docs/spark.md),
    ``spark_master`` (default ``local[*]``) and ``spark_warehouse`` (default
    ``spark-warehouse`` beside FILE) say where.
    """
    logger = get_run_logger()
    run_id = new_run_id()
    paths = wh.WarehousePaths(Path(warehouse).resolve())
    warehouse = str(paths.published)
    spark = _spark_settings(engine, spark_master, spark_warehouse, paths)
    timer = StepTimer()
    start_details = {
        "landing": str(landing),
        "sources": str(sources) if sources else None,
        "warehouse": warehouse,
        "pid": os.getpid(),
        "flow_run_id": str(flow_run.id) if flow_run.id else None,
        "contract_versions": contract_versions(),
    }
    # Start and end of every run go to the run log beside the warehouse, failures included.
    with (
        notify.on_failure(notify_command, run_id, paths),
        runlog.recording(
            runlog.RunLog(paths.run_log),
            run_id,
            timer.started_at,
            wh.code_version(),
            start_details,
            timer.seconds,
            lambda: timer.failed_step,
        ) as outcome,
    ):
        if not sources and not Path(landing).is_dir():  # a pull creates it
            raise RunFailed(f"landing folder {landing} does not exist")
        with wh.writer_lock(paths), ExitStack() as workers:
            # dbt's process gets ready (imports, parsed project) on the second core while the night ingests.
            dbt_ready = None if spark else workers.enter_context(dbt_worker.started(paths.dbt_state))
            begin = None  # tonight's file begun from last night's while dbt builds (a task future)
            exporting = None  # tonight's exports being written (a task future)
            early = None  # tonight's file assembled while the checks run ((task future, its inputs))
            try:
                # 1. Pull what the sites dropped (with a sources file), then load it, study by study.
                pulled = None
                if sources:
                    with timer("pull"):
                        pulled = pull_from_sites(sources, landing)
                with timer("prepare"):
                    prepare(warehouse)
                    studies = load_studies(studies_dir)
                    if pulled is not None:
                        record_pulls(warehouse, pulled, run_id)
                with timer("ingest"):
                    # By study, then site, then TRANSFER_ID: discover() sorts them.
                    ingested = ingest(warehouse, discover_transfers(landing), studies_dir, run_id)
                ingest_errors = {i["study"]: i["error"] for i in ingested if i["error"] and i["study"] in studies}

                # 2. Which studies changed since their tables were published.
                with timer("plan"):
                    plans = plan_night(warehouse, studies_dir, readiness_contract, spark)
                to_build = [p.study for p in plans if p.action == BUILD and p.study not in ingest_errors]
                news = [t for i in ingested for t in i["transfers"] if t["new"]]
                pull_news = pulled is not None and any(o["outcome"] != "skipped" for o in pulled["outcomes"])
                if not (to_build or news or ingest_errors or pull_news) and paths.published.is_file():
                    # Nothing new: nothing to build, nothing to publish; exports a night could
                    # not finish after it published are written again from the published file.
                    exported = _catch_up_exports(paths, run_id, timer)
                    summary = night_summary(run_id, paths, ingested, plans, {}, timer, published=False, pulled=pulled)
                    if exported is not None:
                        summary.exports = exported["exports"]
                    logger.info("%s", summary.news)
                else:
                    # 3. Build the changed studies; each is checked and held back on its own.
                    # The checks' and pages' child processes start now and import while dbt runs,
                    # and tonight's file is begun from last night's with the studies carried over.
                    workers.enter_context(parallel.warm_workers())
                    keep = [p.study for p in plans if p.study not in to_build]
                    if to_build and keep and paths.published.is_file():
                        begin = start_from_last_night.submit(warehouse, run_id, keep)
                    reports_building = _fresh_reports_folder(paths, run_id)
                    # A lineage page of this code carried over: dbt writes no artifacts for a new one.
                    written_by = lineage_written_by()
                    carry_lineage = lineage_is_current(reports_building, written_by)
                    with timer("dbt build"):
                        groups = build_studies(
                            warehouse, run_id, studies_dir, to_build, spark, write_json=not carry_lineage,
                            # (not when the lineage page is written tonight: it documents every model)
                            carried_single_cell=carry_lineage
                            and paths.published.is_file()
                            and any(p.action in (CARRY, HOLD) for p in plans),
                        )  # fmt: skip
                    # On Spark the build files hold no dbt models: no lineage page (last night's stays).
                    docs_from = next((g["build_file"] for g in groups if g["dbt_ok"] and not spark), None)
                    if docs_from:
                        with timer("lineage docs"):
                            write_lineage_docs(warehouse, docs_from, str(reports_building), written_by)
                    if dbt_ready is not None:  # dbt's work is done: its memory goes before the checks
                        dbt_ready.close()

                    def assemble_early(built: dict, held: list[str]) -> tuple:
                        """Tonight's file assembled while the checks run, as if they all pass."""
                        carried = _carried_over(plans, held)
                        begun = _begun(begin) if begin is not None else None
                        future = assemble.submit(
                            warehouse, run_id, studies_dir, carried, built, begun, keep, audit=False
                        )  # fmt: skip
                        return future, built, carried

                    built_files, results, details, pages, early = _check_built_studies(
                        groups, to_build, ingest_errors, paths, reports_building, readiness_contract, run_id, timer,
                        spark, assemble_early=None if spark else assemble_early,
                    )  # fmt: skip
                    held_back = {s: r for s, r in results.items() if r is not None}
                    for study, reason in held_back.items():
                        logger.warning("%s held back (keeps its published tables): %s", study, reason)
                    carried = _carried_over(plans, held_back)

                    # 4. Assemble the new file (current data only), write its exports, swap both in.
                    with timer("assemble"):
                        building = _assembled_early(early, built_files, carried)
                        details["assembled_during_checks"] = building is not None
                        if building is not None:
                            add_audit(building, warehouse, run_id)
                        else:  # (the copy begun during the build went to the early one, if any)
                            begun = _begun(begin) if begin is not None and early is None else None
                            building = assemble(warehouse, run_id, studies_dir, carried, built_files, begun, keep)
                    with timer("query states"):
                        record_query_states(building, str(paths.annotations), run_id)
                    # The exports are written from tonight's file while the review page is (both only
                    # read it); the last group's pages were written meanwhile, and the index links them.
                    published_now = [s for ids in built_files.values() for s in ids]
                    exporting = write_exports.submit(building, str(paths.exports), run_id, published_now, warehouse)
                    with timer("reports"):
                        _wait_for(pages)
                    with timer("assemble"):
                        review = write_review(building, str(reports_building), warehouse, run_id)
                    with timer("exports"):
                        exports, export_error = _exported(exporting)
                    workers.close()  # the children go
                    summary = night_summary(
                        run_id, paths, ingested, plans, held_back, timer, published=True, building=building,
                        details=details, built=to_build, pulled=pulled,
                    )  # fmt: skip
                    summary.markdown += "\n" + review["review_markdown"]
                    (reports_building / "run-summary.md").write_text(summary.markdown, encoding="utf-8")
                    record_run_history(
                        building,
                        str(paths.run_log),
                        run_id,
                        dt.datetime.now(dt.UTC),
                        summary.news,
                        summary.details,
                        summary.study_builds,
                    )
                    with timer("publish"):
                        if spark:  # first: a failure here leaves the DuckDB file as it was, the study unpublished
                            summary.details["spark_tables"] = publish_to_spark(spark, building, built_files, carried)
                        publish(building, warehouse, str(reports_building))
                    with timer("exports"):
                        if export_error is not None:
                            raise export_error
                        finish_exports(str(paths.exports), run_id)
                    summary.exports = exports["exports"]
                    logger.info("published %s", warehouse)
            finally:
                # Published or not, this run's private files go (once nothing still writes them);
                # the published one stays, and so do exports moved into place.
                futures_wait([f for f in (begin, exporting, early and early[0]) if f is not None])
                if exporting is not None:
                    from trialdw.exports import discard_exports

                    discard_exports(paths.exports, run_id)
                wh.remove_stale_building_files(paths)
        outcome.message, outcome.details = summary.news, summary.details

    create_markdown_artifact(key="trialdw-night", markdown=summary.markdown, description="trialdw nightly run summary")
    notify.on_held_back(notify_command, run_id, paths, summary.held_back)
    return summary.as_dict()
