"""The process's SparkSession for the Spark engine, and DuckDB tables into it.

``spark_session(warehouse_dir)`` starts (or returns) the one SparkSession of
the process: Hive support with an embedded Derby metastore kept inside the
warehouse directory (``<warehouse_dir>/_metastore/``), so the tables persist
between sessions; every table a build writes is a managed Parquet table in
``<warehouse_dir>/<schema>.db/<table>/``, readable by Spark SQL and by DuckDB's
``read_parquet``. dbt-spark's ``method: session`` (the ``spark`` target of
dbt_project/profiles.yml) picks this session up through
``SparkSession.builder.getOrCreate()``: start it before dbt.

``copy_duckdb_tables_to_spark`` writes tables of a DuckDB file (the loader's
``raw.*``, ``audit.*``, ``config.*``) as managed Parquet tables of the same
schema (optionally prefixed) and table names.

pyspark is imported inside the functions: a DuckDB night never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

DEFAULT_MASTER = "local[*]"
METASTORE_FOLDER = "_metastore"
# The schemas dbt reads as sources (dbt_project/models/staging/_sources.yml),
# and of audit the one table it reads.
SOURCE_SCHEMAS = ("raw", "audit", "config")
SOURCE_TABLES = {"audit": ("transfers",)}


def _metastore_dir(warehouse_dir: Path) -> Path:
    return Path(warehouse_dir) / METASTORE_FOLDER


def spark_session(warehouse_dir: Path | str, master: str = DEFAULT_MASTER, shuffle_partitions: int | None = None):
    """The SparkSession over ``warehouse_dir`` (started once per process, then reused).

    ``warehouse_dir``: a local folder (created; the Derby metastore inside it,
    ``_metastore/``), or a URL the cluster reaches (``hdfs://…``), whose
    metastore is the cluster's own (hive-site.xml on the driver's classpath).

    A session already running over the same warehouse directory is returned as
    it is (its master and shuffle partitions stay what they were; the shuffle
    partitions, a runtime setting, are updated when given). One over another
    directory is stopped first: a Spark context has one warehouse and one
    metastore for its lifetime.

    Small footprint: no UI, ``shuffle_partitions`` (default: 2 per core of a
    ``local[N]`` master, else Spark's 200), log level WARN, timestamps written
    as Parquet TIMESTAMP_MICROS and the session in UTC (dates and timestamps
    read back the same with DuckDB).
    """
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # A local master talks to itself: no lookup of the host's address.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # A local folder; or a URL every node reaches (hdfs://, s3a://, file:/…), with the
    # metastore the cluster's hive-site.xml names (Derby is one process's only).
    is_url = "://" in str(warehouse_dir)
    warehouse = str(warehouse_dir) if is_url else Path(warehouse_dir).resolve()
    active = running_spark_session()
    if active is not None:
        current = active.conf.get("spark.sql.warehouse.dir", "")
        if _same_dir(current, warehouse):
            if shuffle_partitions:
                active.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
            return active
        stop_spark_session()

    metastore_conf = {}
    if not is_url:
        metastore = _metastore_dir(warehouse)
        metastore.mkdir(parents=True, exist_ok=True)
        # The embedded Derby metastore (and its derby.log) inside the warehouse.
        metastore_conf = {
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true"
            ),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={metastore}",
        }
    partitions = shuffle_partitions or _default_partitions(master)
    builder = (
        SparkSession.builder.master(master)
        .appName("trialdw")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.sources.default", "parquet")
        .config("spark.sql.legacy.createHiveTableByDefault", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
    )
    for key, value in metastore_conf.items():
        builder = builder.config(key, value)
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
        builder = builder.config("spark.default.parallelism", str(partitions))
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def running_spark_session():
    """The process's running SparkSession (whichever thread started it), else None."""
    from pyspark.sql import SparkSession

    for candidate in (SparkSession.getActiveSession(), getattr(SparkSession, "_instantiatedSession", None)):
        if candidate is not None and getattr(candidate.sparkContext, "_jsc", None) is not None:
            return candidate
    return None


def stop_spark_session() -> None:
    """Stop the process's SparkSession, if one runs (the JVM stays; a later
    ``spark_session`` starts a new context in it)."""
    session = running_spark_session()
    if session is not None:
        session.stop()


def copy_duckdb_tables_to_spark(
    spark,
    duckdb_path: Path,
    schemas: Iterable[str] = SOURCE_SCHEMAS,
    *,
    prefix: str = "",
    tables: dict[str, Iterable[str]] | None = None,
) -> list[str]:
    """Every table (or view: raw.* may be views over history.*) of ``schemas``
    in the DuckDB file as a managed Parquet table ``<prefix><schema>.<table>``
    (replaced when it exists); returns the names written, ``schema.table``.

    ``tables`` restricts a schema to some of its tables (schema -> names);
    default ``SOURCE_TABLES``: of audit only what dbt reads (``transfers``);
    ``{}``: every table of every schema.
    Types go through Arrow: VARCHAR -> string, DATE -> date, BIGINT -> bigint,
    DOUBLE -> double, DECIMAL -> decimal, BOOLEAN -> boolean, TIMESTAMP ->
    timestamp; JSON, UUID and TIME as text, HUGEINT as DECIMAL(38, 0) (Spark
    has none of them). An empty table keeps its columns."""
    import duckdb

    written: list[str] = []
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        for schema in schemas:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                    "AND schema_name = $1 UNION SELECT view_name FROM duckdb_views() "
                    "WHERE database_name = current_database() AND schema_name = $1 AND NOT internal ORDER BY 1",
                    [schema],
                ).fetchall()
            ]
            if tables is None:
                tables = SOURCE_TABLES
            if schema in tables:
                wanted = set(tables[schema])
                names = [n for n in names if n in wanted]
            if not names:
                continue
            database = f"{prefix}{schema}"
            spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            for table in names:
                arrow = con.sql(_portable_select(con, schema, table)).to_arrow_table()
                frame = spark.createDataFrame(arrow) if arrow.num_rows else _empty_frame(spark, arrow.schema)
                frame.write.mode("overwrite").format("parquet").saveAsTable(f"`{database}`.`{table}`")
                written.append(f"{database}.{table}")
    return written


def _portable_select(con, schema: str, table: str) -> str:
    """SELECT of a DuckDB table with the types Arrow and Spark share."""
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    parts = []
    for name, kind in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        if kind in ("JSON", "UUID", "TIME") or kind.startswith(("INTERVAL", "TIME ", "TIME(")):
            parts.append(f"CAST({quoted} AS VARCHAR) AS {quoted}")
        elif kind == "HUGEINT":
            parts.append(f"CAST({quoted} AS DECIMAL(38, 0)) AS {quoted}")
        elif kind.startswith("TIMESTAMP WITH TIME ZONE"):
            parts.append(f"CAST({quoted} AS TIMESTAMP) AS {quoted}")
        else:
            parts.append(quoted)
    return f'SELECT {", ".join(parts)} FROM {schema}."{table}"'


def _empty_frame(spark, arrow_schema):
    """An empty DataFrame with the Spark types of an Arrow schema (createDataFrame
    of an empty Arrow table cannot always infer them)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return spark.createDataFrame([], from_arrow_schema(arrow_schema))


def _default_partitions(master: str) -> int | None:
    """2 per core of ``local[N]`` (``local[*]``: the machine's cores); None elsewhere (Spark's default)."""
    if master == "local":
        return 2
    if master.startswith("local[") and master.endswith("]"):
        cores = master[len("local[") : -1].split(",")[0]
        n = (os.cpu_count() or 2) if cores == "*" else int(cores)
        return max(2, 2 * n)
    return None


def _same_dir(configured: str, warehouse: Path | str) -> bool:
    if isinstance(warehouse, str):  # a URL
        return configured.rstrip("/") == warehouse.rstrip("/")
    path = configured.removeprefix("file:")
    return bool(path) and Path(path).resolve() == warehouse
