"""Assembling the file statisticians and data managers read: current data only.

The published warehouse holds every study's current tables and the audit
trail, never the history of every transfer (that stays in the history store).
Each night that changes anything writes a new private file from three sources:

- studies rebuilt and passing tonight: their tables from tonight's build file(s);
- studies carried over (unchanged) or held back: their tables from the
  previously published file, as they were;
- the audit trail (transfers, files, reconciliation, findings, quarantine, …)
  from the history store, plus the run history and audit.study_builds.

Cost is the current data, not everything ever sent. ``trialdw.warehouse.publish``
then swaps the file in atomically; readers of the old file keep reading it.

Per-study schemas and the column that tells a row's study (``raw`` keeps the
loader's lineage name ``_studyid``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trialdw.ingest.load import ensure_audit
from trialdw.study_build import connect
from trialdw.study_config import write_config_tables

STUDY_SCHEMAS = {"raw": "_studyid", "adam": "STUDYID", "analysis": "STUDYID", "data_review": "STUDYID"}


@dataclass
class Sources:
    """Where each study's tables come from."""

    history: Path
    previous: Path | None  # the published file of the last night (None: first night)
    carried: list[str] = field(default_factory=list)  # studies taken from ``previous``
    built: dict[Path, list[str]] = field(default_factory=dict)  # build file -> studies taken from it


def _quoted(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _tables(con, catalog: str) -> list[tuple[str, str]]:
    return con.execute(
        f"""SELECT schema_name, table_name FROM duckdb_tables()
           WHERE database_name = ? AND schema_name IN ({_quoted(STUDY_SCHEMAS)})
           UNION SELECT schema_name, view_name FROM duckdb_views()
           WHERE database_name = ? AND schema_name IN ({_quoted(STUDY_SCHEMAS)}) AND NOT internal""",
        [catalog, catalog],
    ).fetchall()


def assemble(target: Path, sources: Sources, studies: dict, work_dir: Path) -> dict[str, int]:
    """Write the new published file ``target``; returns rows per table.

    Tables are the union of what the sources hold; a study's rows come from
    exactly one source. Rebuilt studies come first, so a table's columns follow
    tonight's build when the code changed (held-back studies keep their older
    shape; missing columns read NULL)."""
    target.unlink(missing_ok=True)
    rows: dict[str, int] = {}
    with connect(target, work_dir) as con:
        catalogs: list[tuple[str, list[str]]] = []
        for i, (build_file, ids) in enumerate(sorted(sources.built.items())):
            if ids:
                con.execute(f"ATTACH ? AS b{i} (READ_ONLY)", [str(build_file)])
                catalogs.append((f"b{i}", ids))
        if sources.previous is not None and sources.carried:
            con.execute("ATTACH ? AS prev (READ_ONLY)", [str(sources.previous)])
            catalogs.append(("prev", sources.carried))
        tables: dict[tuple[str, str], list[tuple[str, list[str]]]] = {}
        for catalog, ids in catalogs:
            for schema, table in _tables(con, catalog):
                tables.setdefault((schema, table), []).append((catalog, ids))
        for schema in STUDY_SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for (schema, table), parts in sorted(tables.items()):
            column = STUDY_SCHEMAS[schema]
            union = " UNION ALL BY NAME ".join(
                f'SELECT * FROM {catalog}.{schema}."{table}" WHERE "{column}" IN ({_quoted(ids)})'
                for catalog, ids in parts
            )
            con.execute(f'CREATE TABLE {schema}."{table}" AS {union}')
            rows[f"{schema}.{table}"] = con.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchall()[0][0]
        for catalog, _ in catalogs:
            con.execute(f"DETACH {catalog}")
        apply_comments(con)
        write_config_tables(con, studies)
        copy_audit(con, sources.history)
    return rows


def apply_comments(con, catalog: dict | None = None) -> int:
    """Table and column comments of the adam and analysis tables, from the dbt ymls.

    ``CREATE TABLE AS`` copies rows, not comments, so the published file would
    lose what dbt's persist_docs wrote into the build file; the analysis tables
    (written by Python) never had any. Both get the yml descriptions here, the
    same text dbt writes, so ``duckdb_tables().comment`` and
    ``duckdb_columns().comment`` describe every table and column a statistician
    queries. Returns the number of comments set."""
    from trialdw.submission.metadata import load_catalog

    catalog = load_catalog() if catalog is None else catalog
    count = 0
    present = con.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name IN ('adam', 'analysis')"
    ).fetchall()
    commented: set[tuple[str, str]] = set()
    con.execute("BEGIN TRANSACTION")  # one commit for all: each comment alone is a catalog write
    for schema, table, column in present:
        meta = catalog.get((schema, table))
        if meta is None:
            continue
        if (schema, table) not in commented and meta.description:
            con.execute(f'COMMENT ON TABLE {schema}."{table}" IS {_quoted([meta.description])}')
            commented.add((schema, table))
            count += 1
        described = meta.columns.get(column.upper())
        if described and described.description:
            con.execute(f'COMMENT ON COLUMN {schema}."{table}"."{column}" IS {_quoted([described.description])}')
            count += 1
    con.execute("COMMIT")
    return count


def copy_audit(con, history_path: Path) -> None:
    """The history store's audit trail, whole (it is the data managers' record),
    into tables made by audit.sql (their keys included: audit.runs is upserted)."""
    ensure_audit(con)
    con.execute("ATTACH ? AS hist (READ_ONLY)", [str(history_path)])
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'hist' AND schema_name = 'audit' ORDER BY 1"
    ).fetchall():
        con.execute(f'CREATE TABLE IF NOT EXISTS audit."{table}" AS FROM hist.audit."{table}" LIMIT 0')
        con.execute(f'INSERT INTO audit."{table}" BY NAME SELECT * FROM hist.audit."{table}"')
    con.execute("DETACH hist")
