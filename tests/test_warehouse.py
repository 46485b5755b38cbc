"""Publishing: one writer, atomic replace, readers keep working."""

from __future__ import annotations

import duckdb
import pytest

from trialdw import warehouse as wh


def _make_published(paths: wh.WarehousePaths, value: int) -> None:
    paths.folder.mkdir(parents=True, exist_ok=True)
    building = paths.building(f"run{value}")
    with duckdb.connect(str(building)) as con:
        con.execute("CREATE OR REPLACE TABLE main.marker AS SELECT ? AS v", [value])
    wh.publish(building, paths)


def test_publish_replaces_atomically_and_old_reader_keeps_its_snapshot(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "w.duckdb")
    _make_published(paths, 1)
    reader = wh.connect_read_only(paths.published)
    assert reader.execute("SELECT v FROM marker").fetchone() == (1,)

    _make_published(paths, 2)  # publish while the reader is open: not blocked

    assert reader.execute("SELECT v FROM marker").fetchone() == (1,)  # old inode
    reader.close()
    with wh.connect_read_only(paths.published) as fresh:
        assert fresh.execute("SELECT v FROM marker").fetchone() == (2,)
    assert not list(tmp_path.glob(".w.duckdb.building-*"))


def test_history_store_opens_with_audit_and_history_schemas_and_is_never_the_published_file(tmp_path):
    from trialdw.ingest.contracts import load_contracts

    paths = wh.WarehousePaths(tmp_path / "w.duckdb")
    con = wh.open_history(paths, load_contracts())
    con.close()
    assert paths.history == tmp_path / "w-history.duckdb" and not paths.published.exists()
    with duckdb.connect(str(paths.history), read_only=True) as con:
        tables = {
            (r[0], r[1])
            for r in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        }
    assert {("audit", t) for t in ("transfers", "files", "reconciliation", "findings", "runs", "quarantine")} <= tables
    assert {("history", "layout"), ("history", "changes"), ("history", "ae"), ("raw", "ae")} <= tables


def test_second_writer_is_refused_with_a_clear_message(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "w.duckdb")
    with wh.writer_lock(paths), pytest.raises(wh.WarehouseBusy, match="another trialdw run is writing"):  # noqa: SIM117
        with wh.writer_lock(paths):  # the second writer, refused while the first holds the lock
            pass
    with wh.writer_lock(paths):  # released: the next run gets it
        pass


def test_stale_building_files_are_removed_under_the_lock(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "w.duckdb")
    stale = paths.building("killed")
    stale.write_bytes(b"half a warehouse")
    assert wh.remove_stale_building_files(paths) == [stale]
    assert not stale.exists()


def test_adam_rows_by_study_counts_every_adam_table_with_a_studyid(tmp_path):
    path = tmp_path / "build.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA adam; CREATE SCHEMA analysis")
        con.execute("CREATE TABLE adam.adsl AS SELECT * FROM (VALUES ('S1'), ('S1'), ('S2')) AS t(STUDYID)")
        con.execute("CREATE TABLE adam.adae AS SELECT * FROM (VALUES ('S1', 1), ('S1', 2), ('S1', 3)) AS t(STUDYID, N)")
        con.execute("CREATE TABLE adam.notes AS SELECT 'no study column' AS TEXT")  # not counted
        con.execute("CREATE TABLE analysis.km AS SELECT 'S2' AS STUDYID FROM range(10)")  # not adam
    assert wh.adam_rows_by_study(path) == {"S1": 5, "S2": 1}
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert wh.adam_rows_by_study(empty) == {}


def test_published_by_is_the_last_completed_run_the_file_holds(tmp_path):
    """The run that wrote the published file: it records itself as completed just
    before it publishes; runs that failed or were refused after it are not in it,
    and failed ones before it do not count."""
    assert wh.published_by(tmp_path / "none.duckdb") is None
    published = tmp_path / "trialdw.duckdb"
    with duckdb.connect(str(published)) as con:
        con.execute("CREATE SCHEMA audit")
    assert wh.published_by(published) is None  # no audit.runs: a file older than it
    with duckdb.connect(str(published)) as con:
        con.execute("CREATE TABLE audit.runs (RUN_ID VARCHAR, STARTED_AT TIMESTAMP, STATUS VARCHAR)")
        con.execute(
            """INSERT INTO audit.runs VALUES
               ('r1', TIMESTAMP '2026-12-01 02:00:00', 'completed'),
               ('r2', TIMESTAMP '2026-12-02 02:00:00', 'completed'),
               ('r3', TIMESTAMP '2026-12-02 03:00:00', 'failed')"""
        )
    assert wh.published_by(published) == "r2"
