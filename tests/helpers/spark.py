"""Spark in the tests: one SparkSession per test session (tests/conftest.py's
``spark`` fixture), DuckDB warehouses built the normal way, and the
row-for-row comparison of a schema built by dbt-duckdb with the same schema
built by dbt-spark.

The comparison reads the Spark tables' Parquet files with DuckDB
(``read_parquet('<warehouse>/<schema>.db/<table>/*.parquet')``: what a
statistician reading the Spark warehouse with DuckDB gets) and compares, in
DuckDB: the column names (case included, in order), the column types, and the
rows (``EXCEPT ALL`` both ways); rows left over are paired on their non-DOUBLE
columns and their DOUBLEs compared to 1e-12 relative.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

# Spark test footprint (the issue: local[2], few shuffle partitions, UI off).
TEST_MASTER = "local[2]"
TEST_SHUFFLE_PARTITIONS = 2
RELATIVE_TOLERANCE = 1e-12


def build_duckdb_warehouse(root: Path, landing: Path, studies: dict, run_id: str = "equality") -> Path:
    """The flow's steps on a landing, called directly (as the conformance test
    does): config tables, ingest (raw.*, audit.*), dbt build on DuckDB."""
    from trialdw.dbt_runner import dbt_build
    from trialdw.ingest.contracts import load_contracts
    from trialdw.ingest.landing import ingest_landing
    from trialdw.ingest.load import ensure_audit
    from trialdw.study_config import write_config_tables

    root.mkdir(parents=True, exist_ok=True)
    db = root / "trialdw.duckdb"
    with duckdb.connect(str(db)) as con:
        write_config_tables(con, studies)
        ensure_audit(con)
        ingest_landing(con, landing, studies, root / "work", run_id, contracts=load_contracts())
    result = dbt_build(db, nightly=True)
    assert result.success, result.failures
    return db


@dataclass
class TableComparison:
    table: str
    duckdb_rows: int = 0
    spark_rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.problems


def duckdb_tables(db: Path, schema: str) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1", [schema]
            ).fetchall()
        ]


def spark_table_files(warehouse_dir: Path, schema: str, table: str) -> list[str]:
    """The Parquet files of a Spark managed table (one folder per table)."""
    folder = Path(warehouse_dir) / f"{schema}.db" / table.lower()
    return sorted(str(p) for p in folder.glob("*.parquet"))


def compare_schema(
    db: Path, warehouse_dir: Path, schema: str, *, spark_schema: str | None = None
) -> list[TableComparison]:
    """Every table of ``schema`` in the DuckDB file against the Spark table of the
    same name in ``spark_schema`` (default: the same schema)."""
    spark_schema = spark_schema or schema
    results = []
    with duckdb.connect(str(db), read_only=True) as con:
        for table in duckdb_tables(db, schema):
            results.append(_compare_table(con, schema, table, warehouse_dir, spark_schema))
    return results


def _columns(con, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _compare_table(con, schema: str, table: str, warehouse_dir: Path, spark_schema: str) -> TableComparison:
    out = TableComparison(table=f"{schema}.{table}")
    ours = f'{schema}."{table}"'
    out.duckdb_rows = con.execute(f"SELECT count(*) FROM {ours}").fetchone()[0]
    files = spark_table_files(warehouse_dir, spark_schema, table)
    if not files:
        out.problems.append(f"no Parquet files for {spark_schema}.{table} under {warehouse_dir}")
        return out
    theirs = "read_parquet([" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "])"
    out.spark_rows = con.execute(f"SELECT count(*) FROM {theirs}").fetchone()[0]
    ours_cols, theirs_cols = _columns(con, ours), _columns(con, theirs)
    if [c for c, _ in ours_cols] != [c for c, _ in theirs_cols]:
        out.problems.append(f"columns differ: duckdb {[c for c, _ in ours_cols]} spark {[c for c, _ in theirs_cols]}")
        return out
    for (name, ours_type), (_, theirs_type) in zip(ours_cols, theirs_cols, strict=True):
        if ours_type != theirs_type:
            out.problems.append(f"{name}: type {ours_type} on DuckDB, {theirs_type} on Spark")
    if out.duckdb_rows != out.spark_rows:
        out.problems.append(f"{out.duckdb_rows} rows on DuckDB, {out.spark_rows} on Spark")
    # Rows, with Spark's values cast to DuckDB's types (a type difference is reported above).
    select_ours = ", ".join(f'"{c}"' for c, _ in ours_cols)
    select_theirs = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in ours_cols)
    only_ours = con.execute(
        f"SELECT {select_ours} FROM {ours} EXCEPT ALL SELECT {select_theirs} FROM {theirs}"
    ).fetchall()
    only_theirs = con.execute(
        f"SELECT {select_theirs} FROM {theirs} EXCEPT ALL SELECT {select_ours} FROM {ours}"
    ).fetchall()
    doubles = [i for i, (_, t) in enumerate(ours_cols) if t in ("DOUBLE", "FLOAT")]
    unmatched_ours, unmatched_theirs = _pair_within_tolerance(only_ours, only_theirs, doubles)
    for row in unmatched_ours[:5]:
        out.problems.append(f"only on DuckDB: {dict(zip([c for c, _ in ours_cols], row, strict=True))}")
    for row in unmatched_theirs[:5]:
        out.problems.append(f"only on Spark: {dict(zip([c for c, _ in ours_cols], row, strict=True))}")
    if len(unmatched_ours) > 5 or len(unmatched_theirs) > 5:
        out.problems.append(f"... {len(unmatched_ours)} rows only on DuckDB, {len(unmatched_theirs)} only on Spark")
    return out


def _pair_within_tolerance(only_ours: list[tuple], only_theirs: list[tuple], doubles: list[int]):
    """Rows of each side that no row of the other side matches: equal on every
    non-DOUBLE column, DOUBLEs within RELATIVE_TOLERANCE (both NULL counts as equal)."""
    if not doubles:
        return only_ours, only_theirs

    def key(row):
        return tuple(repr(v) for i, v in enumerate(row) if i not in doubles)

    pool: dict[tuple, list[tuple]] = {}
    for row in only_theirs:
        pool.setdefault(key(row), []).append(row)
    unmatched = []
    for row in only_ours:
        candidates = pool.get(key(row), [])
        match = next((c for c in candidates if all(_close(row[i], c[i]) for i in doubles)), None)
        if match is None:
            unmatched.append(row)
        else:
            candidates.remove(match)
    return unmatched, [r for rows in pool.values() for r in rows]


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)


def describe(results: list[TableComparison]) -> str:
    lines = []
    for r in results:
        state = "equal" if r.equal else "DIFFERENT"
        lines.append(f"{r.table}: {state} ({r.duckdb_rows} rows on DuckDB, {r.spark_rows} on Spark)")
        lines.extend(f"    {p}" for p in r.problems)
    return "\n".join(lines)


@dataclass(frozen=True)
class SparkHarness:
    """The test session's SparkSession and the warehouse directory it writes to."""

    session: object
    warehouse_dir: Path


def spark_unavailable() -> str | None:
    """Why Spark cannot start here (no pyspark, no Java), else None."""
    import importlib.util
    import os
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        return "no Java (Spark needs Java 17)"
    return None


@contextmanager
def running_test_spark(warehouse_dir: Path):
    """Start the SparkSession once (local[2], 2 shuffle partitions, UI off) and stop it at the end."""
    import logging

    from trialdw.engines.spark_session import spark_session, stop_spark_session

    # pyspark logs every failed statement (with its JVM stack) at ERROR; dbt reports failures itself.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    session = spark_session(warehouse_dir, master=TEST_MASTER, shuffle_partitions=TEST_SHUFFLE_PARTITIONS)
    try:
        yield SparkHarness(session=session, warehouse_dir=Path(warehouse_dir).resolve())
    finally:
        stop_spark_session()
