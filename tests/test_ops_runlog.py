"""The run log beside the warehouse, and how it becomes audit.runs."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from trialdw import warehouse as wh
from trialdw.ops import runlog

T0 = dt.datetime(2026, 1, 10, 2, 0, tzinfo=dt.UTC)  # in the past: end lines carry "now"


def _audit_db(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(wh.AUDIT_DDL.read_text())
    return con


def test_start_and_end_lines_make_one_record_per_run(tmp_path):
    log = runlog.RunLog(tmp_path / "w-runs.jsonl")
    log.start("r1", T0, "abc123", {"landing": "/l"})
    log.end("r1", runlog.COMPLETED, "2 new transfer(s) processed", {"steps_seconds": {"ingest": 1.5}})
    log.start("r2", T0 + dt.timedelta(days=1), "abc123", {"landing": "/l"})
    log.end("r2", runlog.FAILED, "dbt build failed: adsl", {"failed_step": "dbt build"})

    r1, r2 = log.records()
    assert (r1.run_id, r1.status, r1.message, r1.code_version) == (
        "r1",
        "completed",
        "2 new transfer(s) processed",
        "abc123",
    )
    assert r1.details == {"landing": "/l", "steps_seconds": {"ingest": 1.5}}
    assert (r2.status, r2.message, r2.details["failed_step"]) == ("failed", "dbt build failed: adsl", "dbt build")
    assert r2.started_at == T0 + dt.timedelta(days=1) and r2.ended_at > r2.started_at
    assert len((tmp_path / "w-runs.jsonl").read_text().splitlines()) == 4  # appended, never rewritten


def test_a_run_without_end_is_interrupted_unless_it_is_the_callers_own(tmp_path):
    log = runlog.RunLog(tmp_path / "w-runs.jsonl")
    log.start("killed", T0, "v", {})
    log.start("me", T0 + dt.timedelta(hours=1), "v", {})
    statuses = {r.run_id: r.status for r in log.records(running="me")}
    assert statuses == {"killed": "interrupted", "me": "running"}


def test_a_torn_last_line_is_skipped_and_does_not_swallow_the_next_one(tmp_path):
    path = tmp_path / "w-runs.jsonl"
    log = runlog.RunLog(path)
    log.start("r1", T0, "v", {})
    with open(path, "a") as fh:
        fh.write('{"event": "end", "run_id": "r1", "at": "2026-11-')  # machine stopped mid-write
    log.start("r2", T0 + dt.timedelta(days=1), "v", {})
    assert [(r.run_id, r.status) for r in log.records(running="r2")] == [("r1", "interrupted"), ("r2", "running")]


def test_only_ending_statuses_end_a_run(tmp_path):
    with pytest.raises(ValueError, match="not 'running'"):
        runlog.RunLog(tmp_path / "l.jsonl").end("r", runlog.RUNNING, "", {})


def test_recording_writes_failed_with_the_one_line_reason_and_reraises(tmp_path):
    log = runlog.RunLog(tmp_path / "l.jsonl")
    seconds = {}
    with pytest.raises(RuntimeError), runlog.recording(log, "r1", T0, "v", {}, seconds, lambda: "dbt build"):
        seconds["prepare"] = 0.5
        raise RuntimeError("dbt build failed: adae.AESEQ not unique\ntraceback noise")
    with pytest.raises(wh.WarehouseBusy), runlog.recording(log, "r2", T0, "v", {}, {}):
        raise wh.WarehouseBusy("another trialdw run is writing w.duckdb (pid 7)")
    with runlog.recording(log, "r3", T0, "v", {}, {"ingest": 1.0}) as outcome:
        outcome.message = "nothing new"
    r1, r2, r3 = log.records()
    assert (r1.status, r1.message) == ("failed", "dbt build failed: adae.AESEQ not unique")
    assert r1.details == {"steps_seconds": {"prepare": 0.5}, "failed_step": "dbt build"}
    assert (r2.status, r2.message) == ("refused", "another trialdw run is writing w.duckdb (pid 7)")
    assert (r3.status, r3.message, r3.details) == ("completed", "nothing new", {"steps_seconds": {"ingest": 1.0}})


def test_audit_runs_holds_every_logged_run_and_keeps_older_rows(tmp_path):
    log = runlog.RunLog(tmp_path / "w-runs.jsonl")
    log.start("ok", T0, "v1", {"contract_versions": {"AE": "1.0"}})
    log.end("ok", runlog.COMPLETED, "1 new transfer(s) processed", {})
    log.start("bad", T0 + dt.timedelta(days=1), "v1", {})
    log.end("bad", runlog.FAILED, "analysis-readiness checks failed: adam.adsl", {})
    log.start("died", T0 + dt.timedelta(days=2), "v2", {})
    con = _audit_db(tmp_path)
    # A run from before the log existed stays.
    con.execute("INSERT INTO audit.runs VALUES ('older', '2026-01-01', '2026-01-01', 'completed', 'x', 'v0', '{}')")
    runlog.write_runs_table(con, log.records())
    rows = con.execute(
        "SELECT RUN_ID, STATUS, MESSAGE, CODE_VERSION, STARTED_AT FROM audit.runs ORDER BY STARTED_AT"
    ).fetchall()
    assert [r[:4] for r in rows] == [
        ("older", "completed", "x", "v0"),
        ("ok", "completed", "1 new transfer(s) processed", "v1"),
        ("bad", "failed", "analysis-readiness checks failed: adam.adsl", "v1"),
        ("died", "interrupted", "no end recorded: the process was killed or the machine stopped", "v2"),
    ]
    assert rows[1][4] == dt.datetime(2026, 1, 10, 2, 0)  # UTC, without zone
    details = json.loads(con.execute("SELECT DETAILS FROM audit.runs WHERE RUN_ID = 'ok'").fetchone()[0])
    assert details == {"contract_versions": {"AE": "1.0"}}


def test_a_run_published_but_killed_before_its_end_line_stays_completed(tmp_path):
    log = runlog.RunLog(tmp_path / "w-runs.jsonl")
    log.start("r1", T0, "v", {})
    con = _audit_db(tmp_path)
    con.execute(
        "INSERT INTO audit.runs VALUES ('r1', '2026-11-20 02:00', '2026-11-20 02:05', 'completed', "
        "'published', 'v', '{}')"
    )
    runlog.write_runs_table(con, log.records())
    assert con.execute("SELECT STATUS FROM audit.runs").fetchall() == [("completed",)]
