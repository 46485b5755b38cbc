"""Retries, the single-writer lock across real processes, test pause points, serve arguments."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from trialdw import warehouse as wh
from trialdw.ops import testhook
from trialdw.ops.retry import is_transient, retry_if_transient
from trialdw.run_summary import RunFailed


@pytest.mark.parametrize(
    "exc, transient",
    [
        (OSError(errno.EIO, "Input/output error"), True),
        (duckdb.IOException('Could not set lock on file "w.duckdb": Conflicting lock is held'), True),
        (TimeoutError("timed out"), True),
        (FileNotFoundError(2, "No such file"), False),
        (PermissionError(13, "Permission denied"), False),
        (RunFailed("dbt build failed: adsl"), False),
        (duckdb.ConstraintException("duplicate key"), False),
        (ValueError("bug"), False),
    ],
)
def test_only_faults_that_can_go_away_are_retried(exc, transient):
    from prefect.states import Failed

    assert is_transient(exc) is transient
    assert retry_if_transient(None, None, Failed(data=exc)) is transient


LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from trialdw import warehouse as wh
    with wh.writer_lock(wh.WarehousePaths(Path(sys.argv[1]))):
        print("locked", flush=True)
        time.sleep(120)
""")


def test_a_second_process_is_refused_while_the_first_writes_and_a_killed_holder_leaves_no_lock(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "w.duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(paths.published)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(wh.WarehouseBusy) as refused, wh.writer_lock(paths):
            pass
        assert str(refused.value) == (
            f"another trialdw run is writing {paths.published} (pid {holder.pid}); try again when it has finished"
        )
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with wh.writer_lock(paths):  # the kernel released the killed holder's flock
        pass


def test_pause_point_is_inert_without_the_variable_and_announces_itself_with_it(tmp_path, monkeypatch):
    monkeypatch.delenv(testhook.PAUSE_AT_ENV, raising=False)
    testhook.pause_here("ingest")  # returns at once
    marker = tmp_path / "paused"
    monkeypatch.setenv(testhook.PAUSE_AT_ENV, "publish")
    monkeypatch.setenv(testhook.MARKER_ENV, str(marker))
    monkeypatch.setattr(testhook, "PAUSE_SECONDS", 0)
    testhook.pause_here("ingest")  # another stage: no pause
    assert not marker.exists()
    with pytest.raises(RuntimeError, match="never ended by a kill"):
        testhook.pause_here("publish")
    assert marker.read_text() == f"{os.getpid()}\n"


def test_serve_validates_its_schedule():
    from trialdw.ops.serve import ServeError, nightly_schedule

    schedule = nightly_schedule("0 2 * * *", "Europe/Berlin")
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Europe/Berlin")
    with pytest.raises(ServeError, match="invalid cron expression '0 2 \\* \\*'"):
        nightly_schedule("0 2 * *", "UTC")
    with pytest.raises(ServeError, match="unknown timezone 'Mars/Base'"):
        nightly_schedule("0 2 * * *", "Mars/Base")


def test_deployment_parameters_carry_the_sources_file_by_path_only(tmp_path, monkeypatch):
    from trialdw.ops.serve import deployment_parameters

    monkeypatch.chdir(tmp_path)
    params = deployment_parameters(Path("landing"), Path("w.duckdb"), None, "sources.yml")
    assert params == {
        "landing": str(tmp_path / "landing"),
        "warehouse": str(tmp_path / "w.duckdb"),
        "sources": str(tmp_path / "sources.yml"),
    }


def test_serve_without_a_prefect_server_refuses_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # no profile with an API URL
    (tmp_path / "landing").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trialdw.cli",
            "serve",
            "--landing",
            str(tmp_path / "landing"),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "trialdw: serving needs a running Prefect server: start `prefect server start` and set "
        "PREFECT_API_URL=http://127.0.0.1:4200/api (the temporary server schedules nothing)"
    ]
