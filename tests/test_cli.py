"""The `trialdw` command as a user runs it: a real process, real files."""

from __future__ import annotations

import os
import subprocess
import sys

TRIALDW = [sys.executable, "-m", "trialdw.cli"]


def _run(args, **env):
    return subprocess.run([*TRIALDW, *args], capture_output=True, text=True, timeout=600, env={**os.environ, **env})


def test_synth_is_deterministic_for_a_seed(tmp_path):
    for name in ("a", "b"):
        done = _run(["synth", str(tmp_path / name), "--seed", "11", "--subjects", "6"])
        assert done.returncode == 0, done.stderr
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 20
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_run_without_landing_exits_1_with_a_one_line_reason(tmp_path):
    done = _run(["run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(tmp_path / "w.duckdb")])
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"trialdw: landing folder {tmp_path / 'nowhere'} does not exist"]
    assert not (tmp_path / "w.duckdb").exists()


def test_run_with_a_broken_study_file_names_the_file_and_key(tmp_path):
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "X.yml").write_text("study: X\narm: {armcd: A, arm: B}\n")
    (tmp_path / "landing").mkdir()
    done = _run(
        [
            "run",
            "--landing",
            str(tmp_path / "landing"),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--studies",
            str(studies),
        ]
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"trialdw: {studies / 'X.yml'}: missing required key 'response'"


def test_run_publishes_and_says_where_things_are(tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    assert _run(["synth", str(tmp_path / "landing"), "--subjects", "6"]).returncode == 0
    warehouse = tmp_path / "out" / "trialdw.duckdb"
    done = _run(
        ["run", "--landing", str(tmp_path / "landing"), "--warehouse", str(warehouse)],
        PREFECT_API_URL=PREFECT_API_URL.value(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"warehouse : {warehouse}" in done.stdout
    assert "findings  :" in done.stdout and "night     : 4 new transfer(s) processed" in done.stdout
    assert warehouse.exists() and (tmp_path / "out" / "trialdw-reports" / "run-summary.md").exists()


def test_sql_reads_read_only_and_refuses_writes(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE SCHEMA analysis; CREATE TABLE analysis.endpoints AS "
            "SELECT 'S1' AS STUDYID, 'ORR' AS ENDPOINT, 0.25 AS ESTIMATE"
        )
    done = _run(["sql", str(path), "SELECT STUDYID, ESTIMATE FROM analysis.endpoints", "--csv"])
    assert done.returncode == 0 and done.stdout == "STUDYID,ESTIMATE\nS1,0.25\n"
    refused = _run(["sql", str(path), "DROP TABLE analysis.endpoints"])
    assert refused.returncode == 1 and "read-only" in refused.stderr
    assert _run(["sql", str(path), "SELECT count(*) FROM analysis.endpoints", "--csv"]).stdout == "count_star()\n1\n"


def test_prefect_s_senders_warn_no_more_once_the_command_has_said_its_last_line(tmp_path):
    """Prefect drains its senders (states, events, logs) at exit, after the
    command's outcome; under load one warned "Still processing items" there,
    and that became stderr's last line instead of the outcome. Errors still show."""
    import logging

    from trialdw import cli

    assert cli.main(["synth", str(tmp_path / "landing"), "--subjects", "2"]) == 0
    for name in ("EventsWorker", "APILogWorker"):
        assert not logging.getLogger(name).isEnabledFor(logging.WARNING)
        assert logging.getLogger(name).isEnabledFor(logging.ERROR)
