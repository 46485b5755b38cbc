"""One dbt project, two engines: the same landing built with dbt-duckdb and
with dbt-spark gives the same ADaM and data-review tables, row for row.

Each landing (the demo's synthetic one, and the pharmaverse conformance one
when its reference data is present) is built the normal way into a DuckDB
warehouse (config, ingest, ``dbt build``); its dbt sources (``raw.*``,
``audit.transfers``, ``config.*``) are copied into the test session's Spark
warehouse under a schema prefix of their own (``demo_raw`` …), ``dbt build``
runs there with the ``spark`` target and the same prefix, and every table of
``adam``, ``data_review`` and ``intermediate`` is compared (tests/helpers/spark.py): column
names in the same case and order, the same types, the same rows (``EXCEPT
ALL`` both ways, DOUBLEs to 1e-12 relative), read from the Spark tables'
Parquet files with DuckDB.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.spark import build_duckdb_warehouse, compare_schema, describe, duckdb_tables

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# adam and data_review are what the night publishes; intermediate (tables) too: the
# reports read int_tr_target_sums, and an equal chain beneath localises a difference.
COMPARED_SCHEMAS = ("adam", "data_review", "intermediate")


def _demo_landing(root: Path):
    from trialdw.study_config import load_studies
    from trialdw.synth.generate import generate

    studies = load_studies()
    generate(root / "landing", studies=studies)
    return root / "landing", studies


def _pharmaverse_landing(root: Path):
    from tests.test_conformance_pharmaverse import CONFIG, REFERENCE
    from trialdw.conformance.pharmaverse import build_landing
    from trialdw.study_config import load_study

    if not REFERENCE.is_dir():
        pytest.skip(f"pharmaverse reference data not at {REFERENCE}")
    build_landing(REFERENCE / "sdtm", root / "landing")
    study = load_study(CONFIG)
    return root / "landing", {study.study: study}


LANDINGS = {"demo": _demo_landing, "pharmaverse": _pharmaverse_landing}


@pytest.fixture(scope="module")
def spark_dbt(tmp_path_factory):
    """One dbt session with the spark target for the module (one parse per schema prefix)."""
    from trialdw.dbt_runner import DbtSession

    session = DbtSession(tmp_path_factory.mktemp("dbt-spark"), target="spark")
    yield session
    session.close()


@pytest.fixture(scope="module", params=sorted(LANDINGS))
def both_engines(request, spark, spark_dbt, tmp_path_factory):
    """The landing built on DuckDB and on Spark (schemas ``<landing>_adam`` …)."""
    from trialdw.engines.spark_session import copy_duckdb_tables_to_spark

    name = request.param
    root = tmp_path_factory.mktemp(f"equality-{name}")
    landing, studies = LANDINGS[name](root)
    started = time.perf_counter()
    db = build_duckdb_warehouse(root / "duckdb", landing, studies)
    duckdb_seconds = time.perf_counter() - started

    prefix = f"{name}_"
    copied = copy_duckdb_tables_to_spark(spark.session, db, prefix=prefix)
    started = time.perf_counter()
    result = spark_dbt.build(None, nightly=True, schema_prefix=prefix)
    spark_seconds = time.perf_counter() - started
    assert result.success, "\n".join(result.failures)
    print(f"\n{name}: ingest + dbt build on DuckDB {duckdb_seconds:.1f} s; dbt build on Spark {spark_seconds:.1f} s")
    return {"name": name, "db": db, "prefix": prefix, "copied": copied, "result": result}


def test_the_dbt_sources_are_copied_into_spark(both_engines, spark):
    prefix = both_engines["prefix"]
    copied = set(both_engines["copied"])
    assert {f"{prefix}raw.{t}" for t in duckdb_tables(both_engines["db"], "raw") or ()} <= copied
    assert f"{prefix}audit.transfers" in copied and f"{prefix}config.studies" in copied
    for name in copied:
        schema, table = name.split(".")
        assert (spark.warehouse_dir / f"{schema}.db" / table).is_dir(), name


def test_the_data_tests_pass_on_spark(both_engines):
    result = both_engines["result"]
    assert result.tests_failed == 0 and result.tests_passed > 0, result.summary()
    assert result.models_built > 0 and result.skipped == 0, result.summary()


@pytest.mark.parametrize("schema", COMPARED_SCHEMAS)
def test_spark_builds_the_same_tables_as_duckdb(both_engines, spark, schema):
    tables = duckdb_tables(both_engines["db"], schema)
    assert tables, f"no {schema} tables on DuckDB"
    results = compare_schema(
        both_engines["db"], spark.warehouse_dir, schema, spark_schema=both_engines["prefix"] + schema
    )
    assert all(r.equal for r in results), describe(results)
    assert sum(r.duckdb_rows for r in results) > 0


def test_adam_column_names_stay_upper_case_in_the_spark_catalog(both_engines, spark):
    """Spark resolves names case-insensitively but keeps the case of the SELECT:
    the catalog (what Spark SQL and a Thrift client show) has the ADaM names."""
    import duckdb

    prefix = both_engines["prefix"]
    with duckdb.connect(str(both_engines["db"]), read_only=True) as con:
        for table in duckdb_tables(both_engines["db"], "adam"):
            ours = [r[0] for r in con.execute(f"DESCRIBE adam.{table}").fetchall()]
            theirs = spark.session.table(f"`{prefix}adam`.`{table}`").columns
            assert theirs == ours, table
            assert all(c == c.upper() for c in theirs), table
