"""The nightly run of trialdw, told in order.

Pick up the site exports that arrived, check each transfer as a whole, check
every row against its data contract, load what passed (quarantining the rest
with reasons), rebuild the ADaM tables with dbt, compute the endpoints, check
the result is fit for analysis, and only then publish it — atomically, so a
statistician's query never meets a half-built warehouse.

Everything happens in a private copy of the warehouse; a failure anywhere
leaves yesterday's warehouse published and says why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from trialdw import warehouse as wh
from trialdw.ingest.contracts import load_contracts
from trialdw.ingest.landing import ingest_transfer
from trialdw.ingest.load import ensure_raw_table
from trialdw.ingest.transfers import discover
from trialdw.ingest.types import IngestSummary, TransferRef
from trialdw.ops import runlog, testhook
from trialdw.ops.retry import TRANSIENT_RETRIES
from trialdw.run_summary import RunFailed, StepTimer, contract_versions, summarise_run
from trialdw.study_config import load_studies, write_config_tables

# Retries only where a failure can be transient (file I/O, DuckDB file locks):
# see trialdw/ops/retry.py. dbt, endpoints and readiness failures are about
# the data or the code and are never retried; a rejected transfer is an
# outcome, not an exception.


@task(name="prepare building file", **TRANSIENT_RETRIES)
def prepare_building_file(warehouse: str, run_id: str, studies_dir: str | None) -> str:
    """A private copy of the published warehouse, with config and every raw table."""
    paths = wh.WarehousePaths(Path(warehouse))
    stale = wh.remove_stale_building_files(paths)
    if stale:
        get_run_logger().warning("removed %d leftover file(s) of an interrupted run", len(stale))
    building = wh.start_building_file(paths, run_id)
    with duckdb.connect(str(building)) as con:
        write_config_tables(con, load_studies(studies_dir))
        for contract in load_contracts().values():
            ensure_raw_table(con, contract)  # dbt reads all 12 domains, even when empty
    return str(building)


@task(name="discover transfers", **TRANSIENT_RETRIES)
def discover_transfers(landing: str) -> list[TransferRef]:
    found = discover(Path(landing))
    get_run_logger().info("found %d transfer folder(s) under %s", len(found), landing)
    return found


@task(name="ingest transfer", task_run_name="ingest {ref.study}/{ref.site}/{ref.transfer_id}", **TRANSIENT_RETRIES)
def ingest(building: str, ref: TransferRef, studies_dir: str | None, work_dir: str, run_id: str) -> dict:
    """Transfer checks, row contracts and load of one transfer, in one transaction
    (so a retry after a transient fault starts from a clean slate)."""
    summary = IngestSummary()
    with duckdb.connect(building) as con:
        outcome = ingest_transfer(
            con, ref, load_studies(studies_dir), load_contracts(), Path(work_dir), run_id, summary
        )
        if summary.rows_loaded:
            testhook.pause_here("ingest")  # test-only: killed with the building file open
    get_run_logger().info(
        "%s: %s (%d rows loaded, %d quarantined)", ref.relpath, outcome, summary.rows_loaded, summary.rows_quarantined
    )
    return {
        "transfer": ref.relpath,
        "outcome": outcome,
        "new": outcome not in ("skipped", "conflict"),
        "rows_loaded": summary.rows_loaded,
        "rows_quarantined": summary.rows_quarantined,
    }


@task(name="dbt build")
def build_adam(building: str) -> dict:
    from trialdw.dbt_runner import dbt_build

    if testhook.pausing_at("dbt"):
        # Test-only: leave half of the dbt graph built in the file, then wait to be killed.
        dbt_build(Path(building), select="staging")
        testhook.pause_here("dbt")
    result = dbt_build(Path(building))
    get_run_logger().info("dbt: %s", result.summary())
    if not result.success:
        raise RunFailed("dbt build failed: " + "; ".join(result.failures[:3]))
    return dataclasses.asdict(result)


@task(name="record data-review findings")
def record_review_findings(building: str) -> int:
    """Cross-record problems dbt found go to the data managers with a life cycle."""
    from trialdw.data_review import merge_review_findings

    with duckdb.connect(building) as con:
        con.execute("BEGIN TRANSACTION")
        merged = merge_review_findings(con)
        con.execute("COMMIT")
    get_run_logger().info("%d data-review finding(s) in the current data", merged)
    return merged


@task(name="compute endpoints")
def compute_endpoints(building: str) -> dict:
    from trialdw.endpoints import compute_all

    return dataclasses.asdict(compute_all(Path(building)))


@task(name="analysis-readiness checks")
def check_readiness(
    building: str, docs_dir: str, contract: str | None, run_id: str | None = None, failed_runs: str | None = None
) -> dict:
    """GX checks of the adam tables. A failed run's results are copied to ``failed_runs/<run_id>/readiness/``
    (the run's reports folder goes with the run) and the message says where."""
    from trialdw.readiness import DEFAULT_CONTRACT, keep_failed_results, run_readiness_checks

    result = run_readiness_checks(Path(building), Path(docs_dir), Path(contract or DEFAULT_CONTRACT), run_name=run_id)
    if not result.success:
        message = "analysis-readiness checks failed: " + "; ".join(result.failures[:3])
        if failed_runs and run_id and result.docs_index:
            message += f" (results: {keep_failed_results(Path(docs_dir), Path(failed_runs), run_id)})"
        raise RunFailed(message)
    return {
        "docs_index": str(result.docs_index) if result.docs_index else None,
        "seconds": result.statistics.get("seconds"),
    }


@task(name="record query states", **TRANSIENT_RETRIES)
def record_query_states(building: str, annotations: str, run_id: str) -> dict:
    """The data managers' query states into the file about to be published: automatic entries
    (resolved by data, re-opened) into the annotation store, then audit.finding_annotations and
    the STATE columns of audit.findings (trialdw.review_app.state_sync). Idempotent, so a retry is safe."""
    from trialdw.review_app.annotations import AnnotationStore
    from trialdw.review_app.state_sync import sync_states, write_annotation_tables

    store = AnnotationStore(Path(annotations)).create()
    with duckdb.connect(building) as con:
        synced = sync_states(store, con, run_id)
        entries = write_annotation_tables(con, store)
    get_run_logger().info("query states: %s; %d annotation(s) in the warehouse", synced.describe(), entries)
    return {"closed_by_data": synced.closed, "reopened": synced.reopened, "annotations": entries}


@task(name="write reports")
def write_reports(building: str, reports_dir: str, previous: str, run_id: str) -> dict:
    """What people read in the morning, published together with the warehouse:
    the data managers' review page + findings CSV, and one report per study."""
    from trialdw.report import write_reports as write_study_reports
    from trialdw.review_app import write_review_page

    review = write_review_page(
        Path(building), Path(reports_dir), previous_db=Path(previous), run_id=run_id, warehouse_name=Path(previous).name
    )
    pages = write_study_reports(Path(building), Path(reports_dir) / "study-reports")
    return {
        "review_page": str(review.html_path),
        "findings_csv": str(review.csv_path),
        "review_markdown": review.markdown,
        "study_reports": [str(p) for p in pages],
        "review_counts": review.counts.as_dict(),
    }


@task(name="record run history", **TRANSIENT_RETRIES)
def record_run_history(
    building: str, run_log: str, run_id: str, ended_at: dt.datetime, message: str, details: dict
) -> None:
    """audit.runs of the file about to be published: every run of the log
    (failed and interrupted ones too) and this one, completed."""
    records = runlog.RunLog(Path(run_log)).records(running=run_id)
    for record in records:
        if record.run_id == run_id:
            record.ended_at, record.status, record.message = ended_at, runlog.COMPLETED, message
            record.details = {**record.details, **details}
    with duckdb.connect(building) as con:
        runlog.write_runs_table(con, records)


@task(name="export Parquet and XPT", **TRANSIENT_RETRIES)
def export_tables(published: str, exports_dir: str, run_id: str) -> dict:
    """Per-study Parquet and SAS XPT copies of the night that was just published."""
    from trialdw.exports import write_exports

    result = write_exports(Path(published), Path(exports_dir), run_id)
    if result.non_ascii:
        get_run_logger().warning(
            "XPT: non-ASCII text kept as UTF-8 in %d variable(s): %s",
            len(result.non_ascii),
            ", ".join(result.non_ascii[:5]),
        )
    return {"exports": str(result.latest), "files": len(result.files)}


@task(name="publish", **TRANSIENT_RETRIES)
def publish(building: str, warehouse: str, reports_building: str) -> str:
    paths = wh.WarehousePaths(Path(warehouse))
    if Path(building).exists():  # on a retry the file may already have moved
        wh.publish(Path(building), paths)
    if Path(reports_building).exists():
        wh.replace_folder(Path(reports_building), paths.reports)
    return str(paths.published)


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@flow(name="trialdw-nightly")
def nightly(
    landing: str, warehouse: str, studies_dir: str | None = None, readiness_contract: str | None = None
) -> dict:
    """One night: every complete transfer under LANDING into the warehouse FILE.

    ``readiness_contract``: a readiness.yml other than data_contracts/readiness.yml.
    """
    logger = get_run_logger()
    run_id = new_run_id()
    paths = wh.WarehousePaths(Path(warehouse).resolve())
    timer = StepTimer()
    start_details = {
        "landing": str(landing),
        "warehouse": str(paths.published),
        "pid": os.getpid(),
        "flow_run_id": str(flow_run.id) if flow_run.id else None,
        "contract_versions": contract_versions(),
    }
    # Start and end of every run go to the run log beside the warehouse, failures included.
    with runlog.recording(
        runlog.RunLog(paths.run_log),
        run_id,
        timer.started_at,
        wh.code_version(),
        start_details,
        timer.seconds,
        lambda: timer.failed_step,
    ) as outcome:
        if not Path(landing).is_dir():
            raise RunFailed(f"landing folder {landing} does not exist")
        with wh.writer_lock(paths):
            try:
                with timer("prepare"):
                    building = prepare_building_file(str(paths.published), run_id, studies_dir)
                    work_dir = paths.work / run_id
                    reports_building = paths.reports_building(run_id)
                    reports_building.mkdir(parents=True)

                with timer("ingest"):
                    # Transfers of a site in TRANSFER_ID order: discover() sorts them.
                    ingested = [
                        ingest(building, ref, studies_dir, str(work_dir), run_id) for ref in discover_transfers(landing)
                    ]
                with timer("dbt build"):
                    dbt_summary = build_adam(building)
                    record_review_findings(building)
                with timer("endpoints"):
                    endpoint_summary = compute_endpoints(building)
                with timer("readiness"):
                    docs_dir = str(reports_building / "data-docs")
                    readiness = check_readiness(building, docs_dir, readiness_contract, run_id, str(paths.failed_runs))
                with timer("query states"):
                    record_query_states(building, str(paths.annotations), run_id)

                with timer("reports"):
                    reports = write_reports(building, str(reports_building), str(paths.published), run_id)

                summary = summarise_run(
                    building, run_id, landing, paths, ingested, timer, dbt_summary, endpoint_summary, readiness
                )
                summary.markdown += "\n" + reports["review_markdown"]
                (reports_building / "run-summary.md").write_text(summary.markdown, encoding="utf-8")
                record_run_history(
                    building,
                    str(paths.run_log),
                    run_id,
                    dt.datetime.now(dt.UTC),
                    summary.news,
                    summary.details,
                )
                with timer("publish"):
                    publish(building, str(paths.published), str(reports_building))
                with timer("exports"):
                    exports = export_tables(str(paths.published), str(paths.exports), run_id)
            finally:
                # Published or not, this run's private files go; the published one stays.
                wh.remove_stale_building_files(paths)
        outcome.message = summary.news

    create_markdown_artifact(key="trialdw-night", markdown=summary.markdown, description="trialdw nightly run summary")
    logger.info("published %s", paths.published)
    return {
        **summary.as_dict(),
        "exports": exports["exports"],
        "review_page": str(paths.reports / "review.html"),
        "study_reports": str(paths.reports / "study-reports" / "index.html"),
    }
