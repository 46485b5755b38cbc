"""The whole night on Spark, end to end: ``trialdw run --engine spark`` on the
demo landing (real Prefect flow run, pandera, dbt build with dbt-spark, lifelines,
GX, the publish swap), checked against the DuckDB night of the same landing.

The published tables are read the way a statistician without Spark would:
DuckDB's ``read_parquet('<warehouse>/<schema>.db/<table>/*.parquet')``. The
hand-checked values (48 subjects, one subject's TRTSDT, the demo's ORR of
8/21 and 8/22) are also the DuckDB night's. A second night with nothing new
builds and publishes nothing and leaves every Parquet file as it was.

The flow runs in this process, in the test session's SparkSession (the ``spark``
fixture; ``--spark-warehouse`` is its warehouse directory, so it is not restarted).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from tests.helpers.readiness_contracts import SURU_ONLY_FAILS
from tests.helpers.spark import compare_schema, describe

pytestmark = [pytest.mark.slow, pytest.mark.spark]

STUDIES = ("HCC-REGO-PD1", "HCC-SURU-SC")
# The demo landing (trialdw synth's defaults: 24 subjects per study), hand-checked in the DuckDB warehouse.
ADSL_ROWS = 48
SUBJECT, TRTSDT = "HCC-SURU-SC-101-0003", "2025-02-09"
ORR = {"HCC-REGO-PD1": (21, 8), "HCC-SURU-SC": (22, 8)}  # (N, responders)


def _main(argv: list[str]) -> tuple[int, str]:
    """``trialdw`` in this process (the test session's SparkSession); exit code and stdout."""
    import contextlib
    import io

    from trialdw.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def nights(tmp_path_factory, prefect_harness, spark):
    from trialdw.synth import generate

    root = tmp_path_factory.mktemp("spark-night")
    generate(root / "landing")
    return {"root": root, "landing": root / "landing", "spark": spark, "warehouse_dir": spark.warehouse_dir}


@pytest.fixture(scope="module")
def duckdb_night(nights):
    from trialdw.cli import main

    warehouse = nights["root"] / "duck" / "trialdw.duckdb"
    assert main(["run", "--landing", str(nights["landing"]), "--warehouse", str(warehouse)]) == 0
    return warehouse


@pytest.fixture(scope="module")
def first_spark_night(nights, duckdb_night):
    """``trialdw run --engine spark --landing … --spark-warehouse DIR`` (no --warehouse:
    the DuckDB side files go to DIR/_trialdw/)."""
    from trialdw.cli import main

    argv = ["run", "--engine", "spark", "--landing", str(nights["landing"])]
    argv += ["--spark-warehouse", str(nights["warehouse_dir"]), "--spark-master", "local[2]"]
    started = time.perf_counter()
    code = main(argv)
    return {"code": code, "seconds": time.perf_counter() - started, "argv": argv}


def _parquet(warehouse_dir: Path, schema: str, table: str) -> str:
    return f"read_parquet('{warehouse_dir}/{schema}.db/{table}/*.parquet')"


PUBLISHED = {
    "raw": ("dm", "ae", "gf"),
    "audit": ("transfers", "findings", "runs", "study_builds"),
    "config": ("studies",),
    "adam": ("adsl", "adrs", "adtte", "adae", "adcp", "adgf"),
    "analysis": ("endpoints", "km_curves", "ae_by_term", "ae_by_soc", "celltype_change", "gene_change"),
}


def test_the_spark_night_exits_0_and_every_table_is_a_folder_of_parquet(nights, first_spark_night):
    assert first_spark_night["code"] == 0
    root = nights["warehouse_dir"]
    for schema, tables in PUBLISHED.items():
        for table in tables:
            folder = root / f"{schema}.db" / table
            assert folder.is_dir() and list(folder.glob("*.parquet")), folder
    # The night's build schemas and the tables written before the swap are gone.
    assert not list(root.glob("trialdw_build_*")), list(root.glob("trialdw_build_*"))
    assert not list(root.glob("*.db/trialdw_next__*"))
    # The DuckDB side files (history store, run log, reports) beside, under DIR/_trialdw/.
    assert (root / "_trialdw" / "trialdw-history.duckdb").is_file()


def test_hand_checked_values_read_with_duckdb_equal_the_duckdb_night(nights, first_spark_night, duckdb_night):
    root = nights["warehouse_dir"]
    con = duckdb.connect()
    duck = duckdb.connect(str(duckdb_night), read_only=True)
    try:
        adsl = _parquet(root, "adam", "adsl")
        assert con.sql(f"SELECT count(*) FROM {adsl}").fetchall()[0][0] == ADSL_ROWS
        assert duck.sql("SELECT count(*) FROM adam.adsl").fetchall()[0][0] == ADSL_ROWS
        one = f"SELECT CAST(TRTSDT AS VARCHAR) FROM {{}} WHERE USUBJID = '{SUBJECT}'"
        assert con.sql(one.format(adsl)).fetchall() == [(TRTSDT,)]
        assert duck.sql(one.format("adam.adsl")).fetchall() == [(TRTSDT,)]
        orr = "SELECT STUDYID, N, N_EVENTS, ESTIMATE FROM {} WHERE ENDPOINT = 'ORR' AND ARMCD IS NULL ORDER BY 1"
        spark_orr = con.sql(orr.format(_parquet(root, "analysis", "endpoints"))).fetchall()
        assert spark_orr == duck.sql(orr.format("analysis.endpoints")).fetchall()
        assert spark_orr == [(s, n, k, k / n) for s, (n, k) in sorted(ORR.items())]
        # Every endpoint row of the two nights (statistics to 1e-12 relative).
        rows = "SELECT STUDYID, ARMCD, ENDPOINT, N, N_EVENTS, ESTIMATE, LCL, UCL FROM {} ORDER BY 1, 2, 3"
        ours = duck.sql(rows.format("analysis.endpoints")).fetchall()
        theirs = con.sql(rows.format(_parquet(root, "analysis", "endpoints"))).fetchall()
        assert len(ours) == len(theirs) > 0
        for a, b in zip(ours, theirs, strict=True):
            assert a[:5] == b[:5]
            for x, y in zip(a[5:], b[5:], strict=True):
                assert (x is None and y is None) or x == pytest.approx(y, rel=1e-12), (a, b)
        # Current rows of every site (raw) and the audit trail came along.
        for table in ("dm", "gf"):
            count = "SELECT count(*) FROM {}"
            assert (
                con.sql(count.format(_parquet(root, "raw", table))).fetchall()
                == duck.sql(count.format(f"raw.{table}")).fetchall()
            )
        builds = con.sql(f"SELECT STUDYID, STATUS FROM {_parquet(root, 'audit', 'study_builds')} ORDER BY 1").fetchall()
        assert builds == [(s, "published") for s in STUDIES]
    finally:
        con.close()
        duck.close()


def test_every_adam_and_analysis_table_equals_the_duckdb_night_row_for_row(nights, first_spark_night, duckdb_night):
    """The published tables of the two nights, table by table: same columns and
    types, EXCEPT ALL both ways, statistics to 1e-12 relative."""
    for schema in ("adam", "analysis"):
        results = compare_schema(duckdb_night, nights["warehouse_dir"], schema)
        assert {r.table for r in results} >= {f"{schema}.{t}" for t in PUBLISHED[schema]}
        assert all(r.equal for r in results), describe(results)


def test_spark_sql_sees_the_published_tables(nights, first_spark_night):
    session = nights["spark"].session
    assert session.sql("SELECT count(*) FROM adam.adsl").collect()[0][0] == ADSL_ROWS
    assert {r[0] for r in session.sql("SELECT DISTINCT STUDYID FROM analysis.endpoints").collect()} == set(STUDIES)


@pytest.fixture(scope="module")
def later_spark_nights(nights, first_spark_night):
    """Night 2: nothing new. Night 3: a readiness contract that fails every SURU
    subject (both studies rebuilt: the contract changed; SURU held back)."""
    root = nights["warehouse_dir"]
    seen = {"files_before": {p: p.stat().st_mtime_ns for p in root.glob("*.db/*/*.parquet")}}
    seen["builds_before"] = _study_builds(root)
    seen["suru_adsl_before"] = _rows(root, "adam", "adsl", "HCC-SURU-SC")
    started = time.perf_counter()
    seen["second_code"], seen["second_out"] = _main(first_spark_night["argv"])
    seen["second_seconds"] = time.perf_counter() - started
    seen["files_after"] = {p: p.stat().st_mtime_ns for p in root.glob("*.db/*/*.parquet")}
    contract = nights["root"] / "suru-fails.yml"
    contract.write_text(SURU_ONLY_FAILS)
    seen["third_code"], seen["third_out"] = _main([*first_spark_night["argv"], "--readiness-contract", str(contract)])
    seen["builds_after"] = _study_builds(root)
    seen["suru_adsl_after"] = _rows(root, "adam", "adsl", "HCC-SURU-SC")
    seen["rego_adsl_after"] = _rows(root, "adam", "adsl", "HCC-REGO-PD1")
    return seen


def _study_builds(root: Path) -> dict[str, tuple]:
    with duckdb.connect() as con:
        rows = con.sql(
            f"SELECT STUDYID, STATUS, PUBLISHED_RUN_ID FROM {_parquet(root, 'audit', 'study_builds')}"
        ).fetchall()
    return {study: (status, run) for study, status, run in rows}


def _rows(root: Path, schema: str, table: str, study: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.sql(
            f"SELECT * FROM {_parquet(root, schema, table)} WHERE STUDYID = ? ORDER BY ALL", params=[study]
        ).fetchall()


def test_a_second_night_with_nothing_new_builds_nothing_and_touches_no_file(first_spark_night, later_spark_nights):
    seen = later_spark_nights
    assert seen["second_code"] == 0
    assert "nothing new" in seen["second_out"] and "unchanged, carried over" in seen["second_out"], seen["second_out"]
    assert seen["files_after"] == seen["files_before"]
    assert seen["second_seconds"] < first_spark_night["seconds"] / 2, (seen["second_seconds"], first_spark_night)


def test_a_held_back_study_is_not_published_and_keeps_its_published_rows(later_spark_nights):
    seen = later_spark_nights
    assert seen["third_code"] == 2  # completed, a study held back
    assert "HCC-SURU-SC: held back" in seen["third_out"], seen["third_out"]
    before, after = seen["builds_before"], seen["builds_after"]
    assert after["HCC-SURU-SC"] == ("held back", before["HCC-SURU-SC"][1])  # still the first night's tables
    assert after["HCC-REGO-PD1"][0] == "published" and after["HCC-REGO-PD1"][1] != before["HCC-REGO-PD1"][1]
    assert seen["suru_adsl_after"] == seen["suru_adsl_before"] and len(seen["suru_adsl_after"]) == 24
    assert len(seen["rego_adsl_after"]) == 24
