"""Assembling the published file (trialdw.publish.assemble) from real DuckDB files:
a copy of last night's file with only the rebuilt studies' rows replaced when
the shapes allow it, else written whole; the same result either way."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from trialdw import publish
from trialdw.ingest.load import ensure_audit
from trialdw.study_config import load_studies

STUDIES = load_studies()
REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"


def duckdb_file(path: Path, *statements: str) -> Path:
    with duckdb.connect(str(path)) as con:
        for sql in statements:
            con.execute(sql)
    return path


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    history = tmp_path / "history.duckdb"
    with duckdb.connect(str(history)) as con:
        ensure_audit(con)
        con.execute("INSERT INTO audit.transfers (STUDYID, SITEID, TRANSFER_ID, STATUS) VALUES ('X', '1', 't2', 'ok')")
    previous = duckdb_file(
        tmp_path / "previous.duckdb",
        "CREATE SCHEMA adam",
        "CREATE TABLE adam.adsl (STUDYID VARCHAR, USUBJID VARCHAR, AGE INTEGER)",
        f"INSERT INTO adam.adsl VALUES ('{REGO}', 'R-1', 60), ('{SURU}', 'S-1', 50), ('GONE', 'G-1', 40)",
        "CREATE SCHEMA audit",
        "CREATE TABLE audit.stale (X INTEGER)",  # last night's audit trail: replaced, never kept
    )
    return {"history": history, "previous": previous, "work": tmp_path}


def build_file(path: Path, *, extra_column: bool = False) -> Path:
    age = ", AGE INTEGER, WEIGHT DOUBLE" if extra_column else ", AGE INTEGER"
    weight = ", 70.5" if extra_column else ""
    return duckdb_file(
        path,
        "CREATE SCHEMA adam",
        f"CREATE TABLE adam.adsl (STUDYID VARCHAR, USUBJID VARCHAR{age})",
        f"INSERT INTO adam.adsl VALUES ('{SURU}', 'S-1', 51{weight}), ('{SURU}', 'S-2', 52{weight})",
        "CREATE SCHEMA analysis",
        "CREATE TABLE analysis.endpoints (STUDYID VARCHAR, ENDPOINT VARCHAR)",
        f"INSERT INTO analysis.endpoints VALUES ('{SURU}', 'ORR')",
    )


def assemble(files, build: Path, name: str) -> tuple[Path, dict]:
    target = files["work"] / name
    sources = publish.Sources(files["history"], files["previous"], carried=[REGO], built={build: [SURU]})
    return target, publish.assemble(target, sources, STUDIES, files["work"])


def rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_rebuilt_study_replaced_in_a_copy_of_last_nights_file(files):
    build = build_file(files["work"] / "build.duckdb")
    assert publish._same_shapes(publish.Sources(files["history"], files["previous"], [REGO], {build: [SURU]}))
    target, counts = assemble(files, build, "new.duckdb")
    assert counts == {"adam.adsl": 3, "analysis.endpoints": 1}
    # REGO carried as it was; SURU from tonight's build; a study no longer configured is gone.
    assert rows(target, "SELECT STUDYID, USUBJID, AGE FROM adam.adsl ORDER BY 2") == [
        (REGO, "R-1", 60),
        (SURU, "S-1", 51),
        (SURU, "S-2", 52),
    ]
    assert rows(target, "SELECT * FROM analysis.endpoints") == [(SURU, "ORR")]
    assert rows(target, "SELECT TRANSFER_ID FROM audit.transfers") == [("t2",)]  # from the history store
    assert rows(target, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stale'") == [(0,)]
    assert rows(target, "SELECT STUDYID FROM config.studies ORDER BY 1") == [(REGO,), (SURU,)]


def test_changed_shape_writes_the_file_whole_with_the_same_rows(files):
    build = build_file(files["work"] / "build.duckdb", extra_column=True)
    assert not publish._same_shapes(publish.Sources(files["history"], files["previous"], [REGO], {build: [SURU]}))
    target, counts = assemble(files, build, "new.duckdb")
    assert counts == {"adam.adsl": 3, "analysis.endpoints": 1}
    # Tonight's columns; the carried study's row has no WEIGHT.
    assert rows(target, "SELECT STUDYID, USUBJID, AGE, WEIGHT FROM adam.adsl ORDER BY 2") == [
        (REGO, "R-1", 60, None),
        (SURU, "S-1", 51, 70.5),
        (SURU, "S-2", 52, 70.5),
    ]
    assert rows(target, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stale'") == [(0,)]


def first_night_build_file(path: Path) -> Path:
    """A build file as a first night leaves it: its studies' configuration, the
    study schemas, and what only dbt needed (staging views, intermediate tables)."""
    from trialdw.study_config import write_config_tables

    build_file(path)
    with duckdb.connect(str(path)) as con:
        write_config_tables(con, {SURU: STUDIES[SURU]})
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.dm AS SELECT 'S-1' AS USUBJID, ? AS _studyid", [SURU])
        con.execute("CREATE SCHEMA staging; CREATE VIEW staging.stg_site__dm AS FROM raw.dm")
        con.execute("CREATE SCHEMA intermediate; CREATE TABLE intermediate.int_x AS SELECT 1 AS X")
        con.execute("CREATE TABLE main.scratch AS SELECT 1 AS X")
        ensure_audit(con)
    return path


def test_a_first_night_starts_from_a_copy_of_its_build_file_with_the_same_rows(files, monkeypatch):
    build = first_night_build_file(files["work"] / "build.duckdb")
    sources = publish.Sources(files["history"], None, carried=[], built={build: [SURU]})
    assert publish._sole_build_file(sources) == build
    copied = files["work"] / "copied.duckdb"
    counts = publish.assemble(copied, sources, STUDIES, files["work"])
    monkeypatch.setattr(publish, "_sole_build_file", lambda sources: None)
    whole = files["work"] / "whole.duckdb"
    assert publish.assemble(whole, sources, STUDIES, files["work"]) == counts
    assert counts == {"adam.adsl": 2, "analysis.endpoints": 1, "raw.dm": 1}
    listing = (
        "SELECT schema_name, table_name, list((column_name, data_type, comment) ORDER BY column_index) "
        "FROM duckdb_columns() WHERE database_name = current_database() GROUP BY ALL ORDER BY ALL"
    )
    assert rows(copied, listing) == rows(whole, listing)  # tables, columns, types and comments
    for table in ("adam.adsl", "analysis.endpoints", "raw.dm", "audit.transfers", "config.studies"):
        assert rows(copied, f"FROM {table} ORDER BY ALL") == rows(whole, f"FROM {table} ORDER BY ALL"), table
    views = "SELECT count(*) FROM duckdb_views() WHERE NOT internal"
    assert rows(copied, views) == rows(whole, views) == [(0,)]  # dbt's staging views are gone


def test_a_build_file_holding_another_study_is_not_copied(files):
    build = first_night_build_file(files["work"] / "build.duckdb")
    # The file's configuration says SURU; publishing REGO from it would be wrong: written whole.
    assert publish._sole_build_file(publish.Sources(files["history"], None, [], {build: [REGO]})) is None
    assert publish._sole_build_file(publish.Sources(files["history"], None, [], {build: [SURU]})) == build


def test_a_file_without_configuration_is_not_copied(files):
    import duckdb

    bare = files["work"] / "bare.duckdb"
    with duckdb.connect(str(bare)) as con:
        con.execute("CREATE SCHEMA adam; CREATE TABLE adam.adsl AS SELECT 'x' AS STUDYID")
    # No config.studies to say which studies it holds: the whole road, no error.
    assert publish._sole_build_file(publish.Sources(files["history"], None, [], {bare: [REGO]})) is None


def listing_and_rows(path: Path) -> tuple[list, list]:
    tables = rows(
        path,
        "SELECT schema_name, table_name, list((column_name, data_type) ORDER BY column_index) FROM duckdb_columns() "
        "WHERE database_name = current_database() GROUP BY ALL ORDER BY ALL",
    )
    return tables, [rows(path, f'FROM {schema}."{table}" ORDER BY ALL') for schema, table, _ in tables]


def test_a_copy_begun_during_the_build_gives_the_same_file(files):
    build = build_file(files["work"] / "build.duckdb")
    plain, counts = assemble(files, build, "plain.duckdb")
    base = files["work"] / "base.duckdb"
    assert publish.start_from_last_night(base, files["previous"], [REGO], files["work"])
    # Begun: only the carried study's rows, no audit trail or configuration.
    assert rows(base, "SELECT STUDYID FROM adam.adsl") == [(REGO,)]
    assert rows(base, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name IN ('audit', 'config')") == [(0,)]
    target = files["work"] / "begun.duckdb"
    sources = publish.Sources(files["history"], files["previous"], [REGO], {build: [SURU]}, base, [REGO])
    assert publish.assemble(target, sources, STUDIES, files["work"]) == counts
    assert listing_and_rows(target) == listing_and_rows(plain)
    assert not base.exists()  # taken: a retry of the assemble copies last night's file again


def test_a_study_held_back_tonight_is_added_to_the_begun_copy_from_last_night(files):
    # The plan carried REGO only; SURU was rebuilt but held back: it keeps last night's rows.
    build = build_file(files["work"] / "build.duckdb")
    base = files["work"] / "base.duckdb"
    assert publish.start_from_last_night(base, files["previous"], [REGO], files["work"])
    target = files["work"] / "held.duckdb"
    sources = publish.Sources(files["history"], files["previous"], [REGO, SURU], {build: []}, base, [REGO])
    assert publish.assemble(target, sources, STUDIES, files["work"]) == {"adam.adsl": 2}
    assert rows(target, "SELECT STUDYID, USUBJID, AGE FROM adam.adsl ORDER BY 2") == [
        (REGO, "R-1", 60),
        (SURU, "S-1", 50),
    ]


def test_a_begun_copy_is_not_taken_when_the_build_changed_shape(files):
    build = build_file(files["work"] / "build.duckdb", extra_column=True)
    base = files["work"] / "base.duckdb"
    assert publish.start_from_last_night(base, files["previous"], [REGO], files["work"])
    target = files["work"] / "whole.duckdb"
    sources = publish.Sources(files["history"], files["previous"], [REGO], {build: [SURU]}, base, [REGO])
    assert publish.assemble(target, sources, STUDIES, files["work"]) == {"adam.adsl": 3, "analysis.endpoints": 1}
    assert rows(target, "SELECT STUDYID, USUBJID, WEIGHT FROM adam.adsl ORDER BY 2")[1:] == [
        (SURU, "S-1", 70.5),
        (SURU, "S-2", 70.5),
    ]
    assert not base.exists()  # not taken, and gone


def test_last_nights_file_with_a_write_ahead_log_is_not_begun_from(files):
    Path(f"{files['previous']}.wal").write_bytes(b"")
    base = files["work"] / "base.duckdb"
    assert not publish.start_from_last_night(base, files["previous"], [REGO], files["work"])
    assert not base.exists()
