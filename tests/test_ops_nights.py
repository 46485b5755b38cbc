"""Unattended nights on real processes: a history of runs against one warehouse.

One module fixture plays a realistic stretch of nights with the real CLI
(`trialdw run` subprocesses against the session's Prefect test server):

1. first night: the first transfer of each study's site; published;
2. a new transfer of the REGO site arrives. Runs SIGKILLed inside its load
   transaction (while a second run is refused), during dbt build and during
   publish: yesterday's file stays, byte for byte; the killed load is rolled
   back and loaded again by the next run;
3. a run whose readiness contract cannot pass: exit 2, both studies held back
   with the reason, their published tables unchanged;
4. the next night, a read-only reader holding the published file the whole
   time and the landing read-only: completes, rebuilds both studies, and
   records the whole history.

Each test checks one property of that history.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trialdw import warehouse as wh
from trialdw.ops import testhook
from trialdw.synth import generate

pytestmark = pytest.mark.slow

REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
FIRST, SECOND = "20260720T020000Z", "20261119T020000Z"
KILL_STAGES = ("ingest", "dbt", "publish")
IMPOSSIBLE_CONTRACT = """\
version: 1
tables:
  adsl:
    row_ids: [USUBJID]
    expectations:
      - expectation: ExpectColumnValuesToBeBetween
        kwargs: {column: AGE, min_value: 200, max_value: 300}
        why: "Impossible on purpose: no subject is 200 years old."
"""


def _cli(*args: str) -> list:
    return [sys.executable, "-m", "trialdw.cli", *args]


def _env(**extra: str) -> dict:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **extra}


def _run(landing: Path, warehouse: Path, *extra: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _cli("run", "--landing", str(landing), "--warehouse", str(warehouse), *extra),
        capture_output=True,
        text=True,
        timeout=900,
        env=_env(**env),
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree_fingerprint(root: Path) -> dict[str, tuple]:
    """Every path under root with its content hash and mode: any change shows."""
    return {
        str(p.relative_to(root)): (_sha256(p) if p.is_file() else "dir", stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
    }


def _set_read_only(root: Path, read_only: bool) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222 if read_only else mode | 0o200)


def _query(path: Path, sql: str):
    with wh.connect_read_only(path) as con:
        return con.execute(sql).fetchall()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building-" in p.name or p.name.endswith("-work"))


def _kill_at(stage: str, landing: Path, warehouse: Path, tmp: Path, while_paused=None) -> dict:
    """Start a run that pauses at ``stage``, optionally do something while it
    holds the warehouse, then SIGKILL its whole process group."""
    marker = tmp / f"paused-{stage}"
    proc = subprocess.Popen(
        _cli("run", "--landing", str(landing), "--warehouse", str(warehouse)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=_env(**{testhook.PAUSE_AT_ENV: stage, testhook.MARKER_ENV: str(marker)}),
    )
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert proc.poll() is None, f"run ended before reaching {stage}: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, f"run never reached {stage}"
            time.sleep(0.5)
        seen = {"pid": proc.pid, "while_paused": while_paused(proc.pid) if while_paused else None}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    seen["leftovers"] = _leftovers(warehouse.parent)
    seen["published_sha"] = _sha256(warehouse)
    seen["readable"] = _query(warehouse, "SELECT count(*) FROM adam.adsl")[0][0]
    return seen


@pytest.fixture(scope="module")
def history(tmp_path_factory, prefect_harness):
    tmp = tmp_path_factory.mktemp("nights")
    full = tmp / "full"
    generate(full, seed=5, subjects=4)
    # The landing as the sites filled it: first both sites' first transfer,
    # later a second transfer from the REGO site only.
    landing = tmp / "landing"
    for study in (REGO, SURU):
        shutil.copytree(full / study / "101" / FIRST, landing / study / "101" / FIRST)
    warehouse = tmp / "wh" / "trialdw.duckdb"
    h = {"tmp": tmp, "landing": landing, "warehouse": warehouse}

    first = _run(landing, warehouse)
    assert first.returncode == 0, first.stderr[-3000:]
    h["first_sha"] = _sha256(warehouse)
    h["first_adsl"] = _query(warehouse, "SELECT * FROM adam.adsl ORDER BY USUBJID")
    h["first_run_ids"] = _query(warehouse, "SELECT RUN_ID FROM audit.runs")
    h["first_subjects"] = _query(warehouse, "SELECT count(*) FROM adam.adsl")[0][0]

    shutil.copytree(full / REGO / "101" / SECOND, landing / REGO / "101" / SECOND)
    _set_read_only(landing, True)
    h["landing_before"] = _tree_fingerprint(landing)
    try:
        contract = tmp / "impossible.yml"
        contract.write_text(IMPOSSIBLE_CONTRACT)

        def second_run_meanwhile(pid):
            return _run(landing, warehouse)

        h["killed"] = {
            "ingest": _kill_at("ingest", landing, warehouse, tmp, second_run_meanwhile),
            "dbt": _kill_at("dbt", landing, warehouse, tmp),
            "publish": _kill_at("publish", landing, warehouse, tmp),
        }
        h["failed_check"] = _run(landing, warehouse, "--readiness-contract", str(contract))
        h["adsl_after_failed_check"] = _query(warehouse, "SELECT * FROM adam.adsl ORDER BY USUBJID")
        h["builds_after_failed_check"] = _query(
            warehouse,
            "SELECT STUDYID, STATUS, PUBLISHED_RUN_ID, ATTEMPT_RUN_ID, HELD_BACK_SINCE FROM audit.study_builds",
        )
        h["next"] = _next_night_with_a_reader(landing, warehouse)
        h["landing_after"] = _tree_fingerprint(landing)
    finally:
        _set_read_only(landing, False)
    return h


def _next_night_with_a_reader(landing: Path, warehouse: Path) -> dict:
    """The next night, while a statistician's read-only session stays open."""
    reader = wh.connect_read_only(warehouse)
    seen = {"reader_before": reader.execute("SELECT count(*) FROM audit.runs").fetchall(), "reader_during": set()}
    proc = subprocess.Popen(
        _cli("run", "--landing", str(landing), "--warehouse", str(warehouse)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        while proc.poll() is None:
            seen["reader_during"].add(tuple(reader.execute("SELECT count(*) FROM audit.runs").fetchall()))
            time.sleep(1)
        seen["stdout"], seen["stderr"] = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seen["returncode"] = proc.returncode
    seen["reader_after"] = reader.execute("SELECT count(*) FROM audit.runs").fetchall()
    reader.close()
    seen["leftovers"] = _leftovers(warehouse.parent)
    return seen


def test_a_failed_check_holds_the_studies_back_with_their_tables_and_says_why(history):
    failed = history["failed_check"]
    assert failed.returncode == 2, failed.stderr[-3000:]
    (line,) = failed.stderr.strip().splitlines()[-1:]
    assert line.startswith(
        f"trialdw: held back (previous tables kept): {REGO}: analysis-readiness checks failed: adam.adsl: "
    )
    assert "AGE" in line and "200" in line and f"; {SURU}: analysis-readiness checks failed" in line
    assert f"study     : {REGO}: held back, keeps its published tables: " in failed.stdout
    # Published again (the audit trail moved on), but both studies' tables are yesterday's.
    assert history["adsl_after_failed_check"] == history["first_adsl"]
    first_run = history["first_run_ids"][0][0]
    runs = _query(history["warehouse"], "SELECT MESSAGE, DETAILS, RUN_ID FROM audit.runs ORDER BY STARTED_AT")
    failed_run = runs[5][2]
    assert sorted(history["builds_after_failed_check"]) == [
        (REGO, "held back", first_run, failed_run, failed_run),
        (SURU, "held back", first_run, failed_run, failed_run),
    ]
    held = json.loads(runs[5][1])["studies"]
    assert held[REGO]["held_back"].startswith("analysis-readiness checks failed: adam.adsl: ")
    assert runs[5][0] == f"no new transfer; held back: {REGO}, {SURU}"
    # The held-back night's readiness results are kept where a person can open them, and the reason says where.
    kept = Path(line.rsplit("(results: ", 1)[1].split(")")[0])
    failed_runs = history["warehouse"].resolve().parent / "trialdw-failed-runs"
    assert kept.parent.name == "readiness" and kept.parent.parent.parent == failed_runs
    page = kept.read_text(encoding="utf-8")
    assert "FAILED" in page and "<code>adam.adsl</code>" in page and kept.parent.parent.name in page


@pytest.mark.parametrize("stage", KILL_STAGES)
def test_a_run_killed_mid_stage_leaves_the_previous_warehouse_readable(history, stage):
    killed = history["killed"][stage]
    assert killed["published_sha"] == history["first_sha"]  # byte for byte yesterday's
    assert killed["readable"] == history["first_subjects"] > 0  # opens read-only, same content
    # The kill happened mid-run: the run's private files are there...
    expected = ".trialdw.duckdb.building-" if stage == "publish" else ".trialdw-work"
    assert any(name.startswith(expected) for name in killed["leftovers"]), killed["leftovers"]


def test_a_second_run_is_refused_in_one_line_while_the_first_writes(history):
    refused = history["killed"]["ingest"]["while_paused"]
    assert refused.returncode == 1
    warehouse = history["warehouse"].resolve()
    assert refused.stderr.strip().splitlines()[-1] == (
        f"trialdw: run refused: another trialdw run is writing {warehouse} "
        f"(pid {history['killed']['ingest']['pid']}); try again when it has finished"
    )


def test_the_next_night_completes_and_leaves_no_stale_file(history):
    nxt = history["next"]
    assert nxt["returncode"] == 0, nxt["stderr"][-3000:]
    assert f"night     : no new transfer; rebuilt {REGO}, {SURU}" in nxt["stdout"]
    assert nxt["leftovers"] == []  # ...and the next run cleared every leftover


def test_the_killed_load_is_rolled_back_and_loaded_once_by_the_next_run(history):
    rows = _query(
        history["warehouse"], "SELECT STUDYID, TRANSFER_ID, STATUS, CURRENT, RUN_ID FROM audit.transfers ORDER BY 1, 2"
    )
    run_ids = [r[0] for r in _query(history["warehouse"], "SELECT RUN_ID FROM audit.runs ORDER BY STARTED_AT")]
    first_run, dbt_killed_run = run_ids[0], run_ids[3]  # the run after the refused one
    assert rows == [
        (REGO, FIRST, "superseded", None, first_run),
        (REGO, SECOND, "accepted", "Y", dbt_killed_run),
        (SURU, FIRST, "accepted", "Y", first_run),
    ]
    recon = _query(
        history["warehouse"],
        f"SELECT count(*), sum(ROWS_SENT) = sum(ROWS_LOADED + ROWS_QUARANTINED) FROM audit.reconciliation "
        f"WHERE TRANSFER_ID = '{SECOND}'",
    )
    assert recon[0][0] > 0 and recon[0][1] is True  # loaded once, nothing lost
    subjects = _query(history["warehouse"], "SELECT count(*) FROM adam.adsl")[0][0]
    assert subjects > history["first_subjects"]


def test_audit_runs_holds_the_whole_history_failures_included(history):
    rows = _query(
        history["warehouse"], "SELECT STATUS, MESSAGE, CODE_VERSION, DETAILS FROM audit.runs ORDER BY STARTED_AT"
    )
    assert [r[0] for r in rows] == [
        "completed",
        "interrupted",
        "refused",
        "interrupted",
        "interrupted",
        "completed",
        "completed",
    ]
    assert rows[2][1].startswith("another trialdw run is writing")
    assert rows[5][1].endswith(f"held back: {REGO}, {SURU}")
    assert rows[6][1] == f"no new transfer; rebuilt {REGO}, {SURU}"
    assert all(r[2] for r in rows)  # code version of every run
    last = json.loads(rows[6][3])
    assert set(last["steps_seconds"]) >= {"prepare", "ingest", "dbt build", "endpoints", "readiness"}
    subjects = _query(history["warehouse"], "SELECT count(*) FROM adam.adsl")[0][0]
    assert last["contract_versions"]["AE"] and last["counts"]["subjects"] == subjects > history["first_subjects"]
    # The log beside the warehouse says the same, plus the last run's publish.
    log = [json.loads(line) for line in (history["warehouse"].parent / "trialdw-runs.jsonl").read_text().splitlines()]
    assert [e["status"] for e in log if e["event"] == "end"] == ["completed", "refused", "completed", "completed"]


def test_a_reader_held_open_is_neither_blocked_nor_broken_and_a_new_one_sees_the_new_night(history):
    nxt = history["next"]
    assert nxt["reader_during"] == {tuple(nxt["reader_before"])} == {((6,),)}
    assert nxt["reader_after"] == nxt["reader_before"]  # the old snapshot, still readable
    assert _query(history["warehouse"], "SELECT count(*) FROM audit.runs") == [(7,)]


def test_the_landing_is_never_modified(history):
    # Every run above ran with the landing read-only. As root (CI containers)
    # permission bits do not stop writes, so the fingerprint is the real check.
    assert history["landing_after"] == history["landing_before"]
