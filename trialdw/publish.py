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

When studies are carried over, the copy of last night's file is begun while
dbt builds (``start_from_last_night``): copied, the rebuilt studies' rows
deleted, written to disk. The assemble then only adds tonight's rows.

Per-study schemas and the column that tells a row's study (``raw`` keeps the
loader's lineage name ``_studyid``).
"""

from __future__ import annotations

import os
import shutil
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
    base: Path | None = None  # a copy of ``previous`` begun by start_from_last_night, holding only …
    base_holds: list[str] = field(default_factory=list)  # … these studies' rows


def _quoted(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _tables(con, catalog: str | None = None) -> list[tuple[str, str]]:
    """(schema, table) of the study schemas in ``catalog`` (default: the file ``con`` writes)."""
    return con.execute(
        f"""SELECT schema_name, table_name FROM duckdb_tables()
           WHERE database_name = coalesce(?, current_database()) AND schema_name IN ({_quoted(STUDY_SCHEMAS)})
           UNION SELECT schema_name, view_name FROM duckdb_views()
           WHERE database_name = coalesce(?, current_database()) AND schema_name IN ({_quoted(STUDY_SCHEMAS)})
             AND NOT internal
           ORDER BY ALL""",
        [catalog, catalog],
    ).fetchall()


def assemble(target: Path, sources: Sources, studies: dict, work_dir: Path, audit: bool = True) -> dict[str, int]:
    """Write the new published file ``target``; returns rows per table.

    Tables are the union of what the sources hold; a study's rows come from
    exactly one source. When studies are carried and every rebuilt table has
    the shape it had last night, the new file starts as a copy of last night's
    (a file copy, not a re-encoding of every row) and only the rebuilt
    studies' rows are replaced (``_replace_rebuilt``); the copy begun during
    the build (``sources.base``) is taken when it holds only carried studies,
    and the rows of a study held back tonight are added to it from last
    night's file. When nothing is carried and every study comes from one build
    file (a first night, or every study rebuilt together), the new file starts
    as a copy of that build file, its dbt-only schemas dropped
    (``_sole_build_file``). Otherwise it is written whole (``_write_whole``).
    Either way the audit trail, the configuration and the comments are
    written afresh; ``audit``: False leaves the audit trail for ``add_audit``
    (the night assembles while its checks run, before the data review adds
    its findings to the history store)."""
    target.unlink(missing_ok=True)
    incremental = sources.previous is not None and bool(sources.carried) and _same_shapes(sources)
    started = (
        incremental
        and sources.base is not None
        and sources.base.is_file()
        and set(sources.base_holds) <= set(sources.carried)
    )
    sole = None if sources.carried else _sole_build_file(sources)
    if started:
        os.replace(sources.base, target)  # taken once: a retry starts again from a plain copy
    elif incremental:
        shutil.copyfile(sources.previous, target)
    elif sole is not None:
        shutil.copyfile(sole, target)
    if sources.base is not None:
        sources.base.unlink(missing_ok=True)  # not taken (the build's shapes changed)
    # The carried studies whose rows are read from last night's file: those the
    # begun file does not hold; none when a plain copy holds them all; every one
    # when the file is written whole.
    if started:
        from_previous = [study for study in sources.carried if study not in sources.base_holds]
    else:
        from_previous = [] if incremental else list(sources.carried)
    with connect(target, work_dir) as con:
        if sole is not None:
            _keep_study_schemas(con)
            catalogs = []
        else:
            catalogs = _attach(con, sources, from_previous)
        tables: dict[tuple[str, str], list[tuple[str, list[str]]]] = {}
        for catalog, ids in catalogs:
            for schema, table in _tables(con, catalog):
                tables.setdefault((schema, table), []).append((catalog, ids))
        if incremental:
            _replace_rebuilt(con, tables, sources.carried, started)
        elif sole is None:
            _write_whole(con, tables)
        for catalog, _ in catalogs:
            con.execute(f"DETACH {catalog}")
        rows = {
            f"{schema}.{table}": con.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchall()[0][0]
            for schema, table in _tables(con)
        }
        apply_comments(con)
        write_config_tables(con, studies)
        if audit:
            copy_audit(con, sources.history)
    return dict(sorted(rows.items()))


def add_audit(target: Path, history: Path, work_dir: Path) -> None:
    """The history store's audit trail into a file ``assemble(..., audit=False)`` wrote."""
    with connect(target, work_dir) as con:
        copy_audit(con, history)


def start_from_last_night(base: Path, previous: Path, keep: list[str], work_dir: Path) -> bool:
    """Begin tonight's published file while dbt builds (it needs nothing the
    build makes): a copy of last night's file ``previous`` holding only the
    rows of ``keep`` (the studies the night carries over), without its audit
    trail and configuration, closed so its writes are on disk. ``assemble``
    takes it as ``Sources.base``. False, and no file, when last night's file
    has a write-ahead log beside it (a plain copy would miss those writes)."""
    base.unlink(missing_ok=True)
    if not keep or Path(f"{previous}.wal").exists():
        return False
    shutil.copyfile(previous, base)
    with connect(base, work_dir) as con:
        con.execute("BEGIN TRANSACTION")
        _keep_only(con, keep)
        con.execute("COMMIT")
    return True


def _sole_build_file(sources: Sources) -> Path | None:
    """The build file every published study comes from, when it holds exactly
    those studies (its config.studies) and only tables in the study schemas
    (dbt's views are elsewhere), with no write-ahead log beside it; else None."""
    files = [build_file for build_file, ids in sources.built.items() if ids]
    if len(files) != 1 or Path(f"{files[0]}.wal").exists():
        return None
    import duckdb

    with duckdb.connect(str(files[0]), read_only=True) as con:
        try:
            configured = {study for (study,) in con.execute("SELECT STUDYID FROM config.studies").fetchall()}
        except duckdb.CatalogException:  # not a build file prepare_build_file wrote: the whole road
            return None
        views = con.execute(
            f"SELECT count(*) FROM duckdb_views() WHERE NOT internal AND schema_name IN ({_quoted(STUDY_SCHEMAS)})"
        ).fetchone()[0]
    return files[0] if configured == set(sources.built[files[0]]) and not views else None


def _keep_study_schemas(con) -> None:
    """In a copy of a build file: drop what dbt alone needed (staging views,
    intermediate tables, anything in main) and the audit trail and
    configuration (written afresh); the study schemas stay as built."""
    for (schema,) in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() AND NOT internal "
        f"AND schema_name NOT IN ({_quoted(STUDY_SCHEMAS)}, 'main')"
    ).fetchall():
        con.execute(f'DROP SCHEMA "{schema}" CASCADE')
    for kind, name in con.execute(
        "SELECT 'VIEW', view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT internal UNION ALL SELECT 'TABLE', table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall():
        con.execute(f'DROP {kind} main."{name}"')


def _attach(con, sources: Sources, from_previous: list[str]) -> list[tuple[str, list[str]]]:
    """Attach the build files (and last night's file, when ``from_previous``
    names studies taken from it) read-only: (catalog, studies taken from it)."""
    catalogs: list[tuple[str, list[str]]] = []
    for i, (build_file, ids) in enumerate(sorted(sources.built.items())):
        if ids:
            con.execute(f"ATTACH ? AS b{i} (READ_ONLY)", [str(build_file)])
            catalogs.append((f"b{i}", ids))
    if from_previous and sources.previous is not None:
        con.execute("ATTACH ? AS prev (READ_ONLY)", [str(sources.previous)])
        catalogs.append(("prev", list(from_previous)))
    return catalogs


def _write_whole(con, tables: dict) -> None:
    """Every table from its sources. Rebuilt studies come first, so a table's
    columns follow tonight's build when the code changed (held-back studies keep
    their older shape; missing columns read NULL)."""
    for schema in STUDY_SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for (schema, table), parts in sorted(tables.items()):
        column = STUDY_SCHEMAS[schema]
        union = " UNION ALL BY NAME ".join(
            f'SELECT * FROM {catalog}.{schema}."{table}" WHERE "{column}" IN ({_quoted(ids)})' for catalog, ids in parts
        )
        con.execute(f'CREATE TABLE {schema}."{table}" AS {union}')


def _replace_rebuilt(con, tables: dict, carried: list[str], started: bool) -> None:
    """In a copy of last night's file: keep the carried studies' rows, drop the
    others (rebuilt tonight, or no longer configured), add tonight's rows (and,
    in a copy begun during the build, ``started``, which kept only the studies
    the plan carried, the rows of a study held back tonight).
    The copy's audit trail and configuration go (they are written afresh)."""
    con.execute("BEGIN TRANSACTION")
    if not started:
        _keep_only(con, carried)
    existing = set(_tables(con))
    for (schema, table), parts in sorted(tables.items()):
        column = STUDY_SCHEMAS[schema]
        for catalog, ids in parts:
            rows = f'SELECT * FROM {catalog}.{schema}."{table}" WHERE "{column}" IN ({_quoted(ids)})'
            if (schema, table) in existing:
                con.execute(f'INSERT INTO {schema}."{table}" {rows}')
            else:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                con.execute(f'CREATE TABLE {schema}."{table}" AS {rows}')
                existing.add((schema, table))
    con.execute("COMMIT")


def _keep_only(con, studies: list[str]) -> None:
    """In a copy of last night's file: only ``studies``' rows stay in the study
    schemas; the audit trail and configuration go."""
    con.execute("DROP SCHEMA IF EXISTS audit CASCADE")
    con.execute("DROP SCHEMA IF EXISTS config CASCADE")
    for schema, table in _tables(con):
        column = STUDY_SCHEMAS[schema]
        con.execute(
            f'DELETE FROM {schema}."{table}" WHERE "{column}" IS NULL OR "{column}" NOT IN ({_quoted(studies)})'
        )


def _same_shapes(sources: Sources) -> bool:
    """Whether every table of every build file has, column for column, the
    names and types of last night's table of that name (then rows can be
    inserted into a copy of it). False when last night's file still has a
    write-ahead log beside it (a plain file copy would miss those writes)."""
    if Path(f"{sources.previous}.wal").exists():
        return False
    import duckdb

    with duckdb.connect() as con:
        builds = [catalog for catalog, _ in _attach(con, sources, sources.carried) if catalog != "prev"]
        shapes = {
            (catalog, schema, table): columns
            for catalog, schema, table, columns in con.execute(
                f"""SELECT database_name, schema_name, table_name,
                           list((column_name, data_type) ORDER BY column_index)
                    FROM duckdb_columns() WHERE schema_name IN ({_quoted(STUDY_SCHEMAS)})
                    GROUP BY ALL"""
            ).fetchall()
        }
    last_night = {(schema, table): columns for (catalog, schema, table), columns in shapes.items() if catalog == "prev"}
    return all(
        last_night.get((schema, table), columns) == columns
        for (catalog, schema, table), columns in shapes.items()
        if catalog in builds
    )


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
