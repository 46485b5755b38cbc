"""The Spark engine's choices that need no Spark: where things go, names, refusals.
The night itself on Spark: tests/test_spark_night.py (slow, needs Java)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trialdw.cli import _run_locations
from trialdw.engines import spark as spark_engine


def _args(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"engine": "spark", "warehouse": None, "spark_warehouse": None, **given})


def test_either_location_gives_the_other(tmp_path):
    warehouse, spark_dir = _run_locations(_args(spark_warehouse=str(tmp_path / "sw")))
    assert spark_dir == (tmp_path / "sw").resolve()
    assert warehouse == tmp_path / "sw" / "_trialdw" / "trialdw.duckdb"
    warehouse, spark_dir = _run_locations(_args(warehouse=str(tmp_path / "out" / "w.duckdb")))
    assert (warehouse, spark_dir) == (tmp_path / "out" / "w.duckdb", (tmp_path / "out" / "spark-warehouse").resolve())
    assert _run_locations(_args()) == (None, None)


def test_the_duckdb_engine_has_no_spark_location(tmp_path):
    assert _run_locations(_args(engine="duckdb", warehouse="w.duckdb", spark_warehouse="sw")) == (
        Path("w.duckdb"),
        None,
    )


def test_group_schemas_are_plain_lower_case_names():
    assert spark_engine.group_prefix("all") == "trialdw_build_all_"
    assert spark_engine.group_prefix("study-HCC-REGO-PD1") == "trialdw_build_study_hcc_rego_pd1_"


def test_nothing_published_on_spark_yet_plans_every_study_as_a_first_build(tmp_path):
    assert spark_engine.read_study_builds(tmp_path) == {}


def test_the_spark_night_without_java_exits_1_with_one_line(tmp_path):
    (tmp_path / "landing").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's tools, no java
    argv = [
        "run",
        "--engine",
        "spark",
        "--landing",
        str(tmp_path / "landing"),
        "--spark-warehouse",
        str(tmp_path / "sw"),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "trialdw.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "trialdw: --engine spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
    )
    assert not (tmp_path / "sw").exists()


@pytest.mark.parametrize("argv", [["--engine", "spark"], []])
def test_run_needs_a_warehouse_or_a_spark_warehouse(tmp_path, argv):
    (tmp_path / "landing").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "trialdw.cli", "run", "--landing", str(tmp_path / "landing"), *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "give --warehouse FILE" in done.stderr and len(done.stderr.strip().splitlines()) == 1
