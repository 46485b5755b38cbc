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

import datetime as dt
import json
import time
import uuid
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from trialdw import warehouse as wh
from trialdw.config import StudyConfig, load_studies, write_config_tables
from trialdw.ingest import contracts as contract_store
from trialdw.ingest import load, rows, transfers
from trialdw.run_summary import RunFailed, StepTimer, summarise_run

# File I/O and locks can fail transiently; a rejected transfer is data, not a
# fault, so the data steps themselves are not retried.
IO_RETRIES = dict(retries=2, retry_delay_seconds=[2, 10])


@task(name="prepare building file", **IO_RETRIES)
def prepare_building_file(warehouse: str, run_id: str, studies_dir: str | None) -> str:
    paths = wh.WarehousePaths(Path(warehouse))
    stale = wh.remove_stale_building_files(paths)
    if stale:
        get_run_logger().warning("removed %d leftover file(s) of an interrupted run", len(stale))
    building = wh.start_building_file(paths, run_id)
    import duckdb

    with duckdb.connect(str(building)) as con:
        write_config_tables(con, load_studies(studies_dir))
        load.ensure_raw_tables(con, contract_store.load_contracts())
    return str(building)


@task(name="discover transfers")
def discover_transfers(landing: str) -> list[transfers.TransferRef]:
    found = transfers.discover(Path(landing))
    get_run_logger().info("found %d transfer folder(s) under %s", len(found), landing)
    return found


@task(name="check transfer", task_run_name="check {ref.label}")
def check_transfer(ref: transfers.TransferRef, study: StudyConfig | None) -> transfers.TransferCheck:
    return transfers.check_transfer(ref, study, contract_store.load_contracts())


@task(name="validate rows", task_run_name="validate rows {ref.label}")
def validate_rows(ref: transfers.TransferRef, check: transfers.TransferCheck,
                  study: StudyConfig, work_dir: str) -> rows.ValidatedTransfer:
    return rows.validate_transfer(ref, check, study, contract_store.load_contracts(), Path(work_dir))


@task(name="load transfer", task_run_name="load {ref.label}", **IO_RETRIES)
def load_transfer(building: str, ref: transfers.TransferRef, check: transfers.TransferCheck,
                  validated: rows.ValidatedTransfer | None, run_id: str) -> dict:
    import duckdb

    with duckdb.connect(building) as con:
        con.execute("BEGIN TRANSACTION")
        summary = load.record_and_load(con, ref, check, validated, run_id)
        con.execute("COMMIT")
    return summary


@task(name="dbt build")
def build_adam(building: str) -> dict:
    from trialdw.transform import dbt_build

    result = dbt_build(Path(building))
    if not result.success:
        raise RunFailed("dbt build failed: " + "; ".join(result.failures[:3]))
    return result.as_dict()


@task(name="compute endpoints")
def compute_endpoints(building: str) -> dict:
    from trialdw.endpoints import compute_all

    return compute_all(Path(building)).as_dict()


@task(name="analysis-readiness checks")
def check_readiness(building: str, docs_dir: str) -> dict:
    from trialdw.readiness import run_readiness_checks

    result = run_readiness_checks(Path(building), Path(docs_dir))
    if not result.success:
        raise RunFailed("analysis-readiness checks failed: " + "; ".join(result.failures[:3]))
    return {"docs_index": str(result.docs_index) if result.docs_index else None}


@task(name="publish", **IO_RETRIES)
def publish(building: str, warehouse: str, reports_building: str) -> str:
    paths = wh.WarehousePaths(Path(warehouse))
    published = wh.publish(Path(building), paths)
    wh.replace_folder(Path(reports_building), paths.reports)
    return str(published)


@flow(name="trialdw-nightly", log_prints=True)
def nightly(landing: str, warehouse: str, studies_dir: str | None = None) -> dict:
    """One night: every complete transfer under LANDING into the warehouse FILE."""
    logger = get_run_logger()
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    paths = wh.WarehousePaths(Path(warehouse).resolve())
    if not Path(landing).is_dir():
        raise RunFailed(f"landing folder {landing} does not exist")
    studies = load_studies(studies_dir)
    timer = StepTimer()

    with wh.writer_lock(paths):
        with timer("prepare"):
            building = prepare_building_file(str(paths.published), run_id, studies_dir)
            work_dir = paths.work / run_id
            reports_building = paths.folder / f".{paths.reports.name}.building-{run_id}"
            reports_building.mkdir(parents=True, exist_ok=True)

        with timer("ingest"):
            loaded = []
            for ref in discover_transfers(landing):
                study = studies.get(ref.study)
                check = check_transfer(ref, study)
                validated = None
                if check.status == "accepted" and not check.already_loaded:
                    validated = validate_rows(ref, check, study, str(work_dir))
                loaded.append(load_transfer(building, ref, check, validated, run_id))

        with timer("dbt build"):
            dbt_summary = build_adam(building)
        with timer("endpoints"):
            endpoint_summary = compute_endpoints(building)
        with timer("readiness"):
            readiness = check_readiness(building, str(reports_building / "data-docs"))

        summary = summarise_run(building, run_id, landing, paths, loaded, timer,
                                dbt_summary, endpoint_summary, readiness)
        (reports_building / "run-summary.md").write_text(summary.markdown, encoding="utf-8")
        with timer("publish"):
            publish(building, str(paths.published), str(reports_building))

    create_markdown_artifact(key="trialdw-night", markdown=summary.markdown,
                             description="trialdw nightly run summary")
    logger.info("published %s", paths.published)
    return summary.as_dict()
