"""`trialdw serve` against a real `prefect server start`: scheduled, triggered, published.

Two long-lived processes, as in production (docs/operations.md): a Prefect
server on a free loopback port with its own PREFECT_HOME (SQLite), and
`trialdw serve`. A run triggered by hand through the API must complete and
publish the warehouse. Waits are bounded; teardown kills both process groups.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trialdw import warehouse as wh
from trialdw.ops.prefect_server import PREFECT, running_prefect_server, stop
from trialdw.synth import generate

pytestmark = pytest.mark.slow

FIRST = "20260720T020000Z"


def _wait_until(check, seconds: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert proc.poll() is None, f"{what}: process exited: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s: {log.read_text()[-3000:]}"
        time.sleep(1)


def _start(args: list, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


@pytest.fixture
def prefect_server(tmp_path):
    """A real Prefect server on 127.0.0.1:<free port>; yields (api_url, env for its clients)."""
    with running_prefect_server(tmp_path) as server:
        yield server


def test_served_deployment_has_the_schedule_and_a_triggered_run_publishes(tmp_path, prefect_server):
    _api_url, env = prefect_server
    full = tmp_path / "full"
    generate(full, seed=3, subjects=4)
    landing = tmp_path / "landing"
    for study in ("HCC-REGO-PD1", "HCC-SURU-SC"):
        shutil.copytree(full / study / "101" / FIRST, landing / study / "101" / FIRST)
    warehouse = tmp_path / "wh" / "trialdw.duckdb"

    log = tmp_path / "serve.log"
    serve = _start(
        [
            sys.executable,
            "-m",
            "trialdw.cli",
            "serve",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
            "--name",
            "test-night",
            "--cron",
            "0 2 * * *",
            "--timezone",
            "Europe/Berlin",
        ],
        env,
        log,
    )
    try:
        _wait_until(lambda: "is being served" in log.read_text(), 180, "trialdw serve", serve, log)
        inspect = subprocess.run(
            [PREFECT, "deployment", "inspect", "trialdw-nightly/test-night", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert inspect.returncode == 0, inspect.stderr
        deployment = json.loads(inspect.stdout)
        [schedule] = [s["schedule"] for s in deployment["schedules"]]
        assert (schedule["cron"], schedule["timezone"]) == ("0 2 * * *", "Europe/Berlin")
        assert deployment["parameters"] == {"landing": str(landing.resolve()), "warehouse": str(warehouse.resolve())}

        # How an operator triggers a night by hand (docs/operations.md).
        triggered = subprocess.run(
            [PREFECT, "deployment", "run", "trialdw-nightly/test-night", "--watch", "--watch-timeout", "600"],
            capture_output=True,
            text=True,
            timeout=700,
            env=env,
        )
        assert triggered.returncode == 0, triggered.stdout[-3000:] + log.read_text()[-3000:]
        assert "Flow run finished successfully" in triggered.stdout
    finally:
        stop(serve)

    with wh.connect_read_only(warehouse) as con:
        assert con.execute("SELECT STATUS FROM audit.runs").fetchall() == [("completed",)]
        assert con.execute("SELECT count(*) FROM audit.transfers WHERE STATUS = 'accepted'").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM adam.adsl").fetchone()[0] > 0
