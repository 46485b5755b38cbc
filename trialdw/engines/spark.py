"""The night on Apache Spark (``trialdw run --engine spark``; docs/spark.md).

The same night as on DuckDB, with Spark where the data grows:

1. ingest and validation stay as they are (pandera, the DuckDB history store);
   each build group's current rows are prepared in its DuckDB build file as
   tonight (``trialdw.study_build.prepare_build_file``);
2. the group's ``raw.*``, ``audit.transfers`` and ``config.*`` go to Spark as
   managed Parquet tables in the group's own schemas (``<prefix>raw`` …, the
   prefix named after the group), and ``dbt build`` runs with the ``spark``
   target into ``<prefix>staging`` … ``<prefix>adam``: one group's failure never
   touches another group's tables, nor the published ones;
3. the endpoints and the readiness checks read the group's ADaM tables from
   Spark (Arrow) into the group's build file and run the very code of the
   DuckDB night on it (``trialdw.endpoints.compute_all``,
   ``trialdw.readiness.run_readiness_checks``); ``analysis.*`` goes back to
   Spark as ``<prefix>analysis.*``;
4. publishing, after every check: each published table (``raw adam analysis
   data_review`` per study, ``audit config`` whole) is written as
   ``<schema>.trialdw_next__<table>`` (passed studies from their group's
   schema, carried and held-back studies from the published table), and only
   when every table is written are they swapped in, table by table (DROP, then
   RENAME: a directory rename in the warehouse). A reader sees each table
   whole, old or new; not every table of one night at one instant.

Tables land as ``<warehouse>/<schema>.db/<table>/part-*.parquet`` (Spark
managed tables, Hive metastore), readable by Spark SQL and by DuckDB's
``read_parquet``. The DuckDB warehouse file is still assembled beside (the
review app, the exports, the study reports read it): docs/spark.md says what
that costs and what is left.

pyspark is imported inside the functions: a DuckDB night never pays for it.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass
from functools import reduce
from pathlib import Path

from trialdw.publish import STUDY_SCHEMAS

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"
# Published as whole tables, from the assembled DuckDB file (the audit trail, the studies' configuration).
WHOLE_SCHEMAS = ("audit", "config")
# What dbt reads of a group's build file (its sources): staged into the group's Spark schemas.
STAGED = ("raw", "audit", "config")
STAGED_TABLES = {"audit": ("transfers",)}  # the other schemas whole
# What the Python steps after dbt read of the group's Spark schemas, fetched into its build file:
# the endpoints and readiness (adam), the data-review findings, the reports' waterfall.
FETCHED = {"adam": None, "data_review": None, "intermediate": ("int_tr_target_sums",)}
# Written beside a published table before the swap; a killed run's leftovers go at the next publish.
NEXT = "trialdw_next__"
GROUP_PREFIX = "trialdw_build_"


class SparkUnavailable(RuntimeError):
    """Spark cannot start here (no Java, no pyspark): the one-line reason."""


@dataclass(frozen=True)
class SparkSettings:
    """Where and how the night's Spark session runs (plain values: Prefect tasks pass them)."""

    warehouse_dir: str  # absolute path (or a URL the cluster can reach)
    master: str = DEFAULT_MASTER
    shuffle_partitions: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, value: SparkSettings | dict) -> SparkSettings:
        return value if isinstance(value, cls) else cls(**value)


def check_available() -> None:
    """Raise SparkUnavailable with the reason when Spark could not start."""
    import importlib.util
    import os

    if importlib.util.find_spec("pyspark") is None:
        raise SparkUnavailable("--engine spark needs pyspark (pip install -r requirements.lock)")
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        raise SparkUnavailable("--engine spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)")


def session(settings: SparkSettings | dict):
    """The process's SparkSession for these settings (started once, then reused)."""
    from trialdw.engines.spark_session import spark_session

    settings = SparkSettings.of(settings)
    return spark_session(settings.warehouse_dir, master=settings.master, shuffle_partitions=settings.shuffle_partitions)


def group_prefix(group: str) -> str:
    """The schema prefix of a build group (``all`` → ``trialdw_build_all_``): Spark
    database names are lower-case letters, digits and underscores."""
    return GROUP_PREFIX + re.sub(r"[^a-z0-9]+", "_", group.lower()).strip("_") + "_"


# ------------------------------------------------------------------ moving tables


def _databases(spark) -> set[str]:
    return {row[0] for row in spark.sql("SHOW DATABASES").collect()}


def _tables(spark, database: str) -> list[str]:
    if database not in _databases(spark):
        return []
    rows = spark.sql(f"SHOW TABLES IN `{database}`").collect()
    return sorted(r["tableName"] for r in rows if not r["isTemporary"])


def spark_to_duckdb(spark, prefix: str, tables: dict[str, tuple[str, ...] | None], duckdb_path: Path) -> dict[str, int]:
    """``<prefix>schema.table`` from Spark into ``schema.table`` of a DuckDB file
    (replaced); returns rows per table."""
    import duckdb

    rows = {}
    with duckdb.connect(str(duckdb_path)) as con:
        for schema, names in tables.items():
            chosen = [t for t in _tables(spark, prefix + schema) if names is None or t in names]
            if chosen:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for table in chosen:
                arrow = spark.table(f"`{prefix}{schema}`.`{table}`").toArrow()
                con.register("_from_spark", arrow)
                try:
                    con.execute(f'CREATE OR REPLACE TABLE {schema}."{table}" AS SELECT * FROM _from_spark')
                finally:
                    con.unregister("_from_spark")
                rows[f"{schema}.{table}"] = arrow.num_rows
    return rows


def drop_group_schemas(spark, prefix: str | None = None) -> list[str]:
    """The build schemas of one group (``prefix``) or of every group (None)."""
    dropped = []
    for database in sorted(_databases(spark)):
        if database.startswith(prefix or GROUP_PREFIX):
            spark.sql(f"DROP DATABASE IF EXISTS `{database}` CASCADE")
            dropped.append(database)
    return dropped


# ------------------------------------------------------------------ the night's steps


def build_group(settings: SparkSettings | dict, dbt, history_path: Path, folder: Path, studies: dict,
                contracts: dict, progress=None):  # fmt: skip
    """Like ``trialdw.study_build.build_group``, with dbt on Spark: the build file
    is prepared as tonight, its dbt sources staged in the group's Spark schemas,
    then ``dbt build`` (spark target, the group's schema prefix)."""
    from trialdw.dbt_runner import BUILD_FILE_NAME
    from trialdw.study_build import GroupBuild, prepare_build_file

    clock = _Clock()
    build = GroupBuild(sorted(studies), folder / BUILD_FILE_NAME)
    with clock("build file"):
        build.rows = prepare_build_file(history_path, build.build_file, studies, contracts)
    with clock("spark session"):
        spark = session(settings)  # started before dbt: dbt-spark's session method finds it
    prefix = group_prefix(folder.name)
    with clock("sources to spark"):
        drop_group_schemas(spark, prefix)
        copy_to_spark(spark, build.build_file, STAGED, prefix, STAGED_TABLES)
    with clock("dbt"):
        result = dbt.build(build.build_file, nightly=True, progress=progress, schema_prefix=prefix)
    build.dbt_ok, build.dbt_summary, build.dbt_failures = result.success, result.summary(), result.failures
    build.seconds = clock.seconds
    return build


class _Clock:
    """Seconds per named part of a step (the run log's dbt details; make bench prints them)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        import contextlib
        import time

        @contextlib.contextmanager
        def timing():
            started = time.perf_counter()
            try:
                yield
            finally:
                self.seconds[name] = round(self.seconds.get(name, 0) + time.perf_counter() - started, 2)

        return timing()


def compute_endpoints(settings: SparkSettings | dict, build_file: Path):
    """The group's ADaM tables (and what the later steps read) from Spark into
    its build file, the endpoint statistics on them (the DuckDB night's code),
    and ``analysis.*`` back to Spark in the group's schema."""
    from trialdw.endpoints import compute_all

    spark = session(settings)
    prefix = group_prefix(Path(build_file).parent.name)
    spark_to_duckdb(spark, prefix, FETCHED, Path(build_file))
    result = compute_all(Path(build_file))
    copy_to_spark(spark, Path(build_file), ("analysis",), prefix)
    return result


def publish(
    settings: SparkSettings | dict, building: Path, built: dict[str, list[str]], carried: list[str]
) -> list[str]:
    """The published schemas of the Spark warehouse, after every check passed.

    ``built``: group prefix → studies published from it tonight; ``carried``:
    studies whose published rows stay (unchanged or held back); ``building``: the
    assembled DuckDB file (audit trail and configuration, whole). Every new
    table is written first (``<schema>.trialdw_next__<table>``, several at a
    time); then each is swapped in (DROP the old, RENAME the new), and published
    tables no source holds any more are dropped. Returns the published tables."""
    from pyspark.sql import functions as F

    spark = session(settings)
    for schema in (*STUDY_SCHEMAS, *WHOLE_SCHEMAS):  # a killed run's half-written tables
        for table in _tables(spark, schema):
            if table.startswith(NEXT):
                spark.sql(f"DROP TABLE IF EXISTS `{schema}`.`{table}`")
    writes: dict[tuple[str, str], object] = {}  # (schema, table) -> the DataFrame of its new rows
    for schema, column in STUDY_SCHEMAS.items():
        parts: dict[str, list] = {}
        for prefix, ids in sorted(built.items()):
            for table in _tables(spark, prefix + schema) if ids else ():
                frame = spark.table(f"`{prefix}{schema}`.`{table}`").where(F.col(column).isin(list(ids)))
                parts.setdefault(table, []).append(frame)
        for table in _tables(spark, schema) if carried else ():
            frame = spark.table(f"`{schema}`.`{table}`").where(F.col(column).isin(list(carried)))
            parts.setdefault(table, []).append(frame)
        for table, frames in parts.items():
            writes[(schema, table)] = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    writes.update(_duckdb_frames(spark, Path(building), WHOLE_SCHEMAS))
    for schema in sorted({schema for schema, _ in writes}):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{schema}`")

    def write(item) -> None:
        (schema, table), frame = item
        frame.write.mode("overwrite").format("parquet").saveAsTable(f"`{schema}`.`{NEXT}{table}`")

    _in_parallel(write, sorted(writes.items(), key=lambda item: item[0]))
    # Every table is written: swap them in.
    published = []
    for schema in sorted({schema for schema, _ in writes}):
        tables = sorted(table for s, table in writes if s == schema)
        for table in tables:
            spark.sql(f"DROP TABLE IF EXISTS `{schema}`.`{table}`")
            spark.sql(f"ALTER TABLE `{schema}`.`{NEXT}{table}` RENAME TO `{schema}`.`{table}`")
            published.append(f"{schema}.{table}")
        for table in _tables(spark, schema):
            if table not in tables and not table.startswith(NEXT):
                spark.sql(f"DROP TABLE IF EXISTS `{schema}`.`{table}`")
    return published


# Spark writes at a time: each small write is mostly driver and metastore latency, which overlaps.
WRITERS = 4


def _in_parallel(function, items) -> None:
    """``function`` over ``items`` on a few threads (Spark runs the jobs of several
    threads at once); the first error is raised once all are done."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="trialdw-spark-write") as pool:
        futures = [pool.submit(function, item) for item in items]
    for future in futures:
        future.result()


def _duckdb_frames(spark, duckdb_path: Path, schemas: tuple[str, ...]) -> dict[tuple[str, str], object]:
    """Every table of ``schemas`` in a DuckDB file as a Spark DataFrame (through
    Arrow, the types as trialdw.engines.spark_session.copy_duckdb_tables_to_spark maps them)."""
    import duckdb

    from trialdw.engines.spark_session import _empty_frame, _portable_select

    frames = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        for schema in schemas:
            for (table,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = ? ORDER BY 1",
                [schema],
            ).fetchall():
                arrow = con.sql(_portable_select(con, schema, table)).to_arrow_table()
                frames[(schema, table)] = (
                    spark.createDataFrame(arrow) if arrow.num_rows else _empty_frame(spark, arrow.schema)
                )
    return frames


def copy_to_spark(spark, duckdb_path: Path, schemas: tuple[str, ...], prefix: str, tables: dict | None = None) -> None:
    """trialdw.engines.spark_session.copy_duckdb_tables_to_spark, several tables at a time."""
    import duckdb

    from trialdw.engines.spark_session import copy_duckdb_tables_to_spark

    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        listed = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1, 2"
        ).fetchall()
    chosen = [(s, t) for s, t in listed if s in schemas and (tables is None or s not in tables or t in tables[s])]
    for schema in sorted({s for s, _ in chosen}):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{prefix}{schema}`")

    def copy(item) -> None:
        schema, table = item
        copy_duckdb_tables_to_spark(spark, duckdb_path, (schema,), prefix=prefix, tables={schema: (table,)})

    _in_parallel(copy, chosen)


def read_study_builds(warehouse_dir: Path) -> dict:
    """audit.study_builds of the Spark warehouse (what its published tables were
    built from), read from its Parquet files with DuckDB: no Spark needed to plan.
    {} before the first Spark night."""
    import duckdb

    from trialdw.study_plan import study_builds_from

    folder = Path(warehouse_dir) / "audit.db" / "study_builds"
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return {}
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA audit")
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW audit.study_builds AS SELECT * FROM read_parquet([{listed}])")
        return study_builds_from(con)
