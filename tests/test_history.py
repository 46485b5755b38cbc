"""The history store keeps record versions, not snapshots, and still gives back
every accepted transfer exactly: values, extra columns and SOURCE_LINE.

A synth landing with several cumulative transfers per site goes through the
real ingest into a real DuckDB history store; every file of every accepted
transfer is then rebuilt from the store (valid rows from raw.<domain>, a view
over versions and runs; quarantined rows from audit.quarantine) and compared
with the CSV file, record by record and line by line.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import duckdb
import pytest

from tests.helpers.transfers import SITE, STUDY, base_files, csv_text, dm_row, study_config, write_transfer
from trialdw import history
from trialdw.ingest import ingest_landing, load_contracts
from trialdw.ingest.contracts import ColumnSpec
from trialdw.ingest.csvfile import iter_records
from trialdw.study_config import load_studies
from trialdw.synth import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    synth = generate(root / "landing", seed=11, subjects=6, sites=2)
    con = duckdb.connect(str(root / "store.duckdb"))
    summary = ingest_landing(con, root / "landing", load_studies(), root / "work", "run-1")
    yield {"root": root, "con": con, "synth": synth, "summary": summary}
    con.close()


def _file_records(path: Path) -> dict[int, dict]:
    """The CSV as a site sent it: {physical line: {column: value or None}}."""
    records = iter_records(path)
    _, header = next(records)
    return {
        line: {c: (v if v != "" else None) for c, v in zip(header, fields, strict=True)} for line, fields in records
    }


def _stored_records(con, contract, study, site, transfer_id) -> dict[int, dict]:
    """The same file rebuilt from the history store."""
    columns = ", ".join(f'"{c}"' for c in contract.column_names)
    out = {}
    for row in con.execute(
        f"SELECT _source_line, CAST(_extra AS VARCHAR), {columns} FROM {history.raw_view(contract.domain)} "
        "WHERE _studyid = ? AND _siteid = ? AND _transfer_id = ?",
        [study, site, transfer_id],
    ).fetchall():
        line, extra, values = row[0], row[1], row[2:]
        record = dict(zip(contract.column_names, values, strict=True))
        record.update(json.loads(extra) if extra else {})
        out[line] = {k: (v if v != "" else None) for k, v in record.items()}
    for line, record in con.execute(
        "SELECT SOURCE_LINE, CAST(RECORD AS VARCHAR) FROM audit.quarantine "
        "WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ? AND DOMAIN = ?",
        [study, site, transfer_id, contract.domain],
    ).fetchall():
        assert line not in out, f"line {line} both loaded and quarantined"
        out[line] = {k: (v if v != "" else None) for k, v in json.loads(record).items()}
    return out


def test_every_accepted_transfer_is_rebuilt_exactly_from_the_history(store):
    con, contracts = store["con"], load_contracts()
    accepted = con.execute(
        "SELECT STUDYID, SITEID, TRANSFER_ID FROM audit.transfers WHERE STATUS IN ('accepted', 'superseded')"
    ).fetchall()
    assert len(accepted) == 8  # 2 studies x 2 sites x 2 cumulative transfers
    compared = 0
    for study, site, transfer_id in accepted:
        folder = store["root"] / "landing" / study / site / transfer_id
        for csv_file in sorted(folder.glob("*.csv")):
            contract = contracts[csv_file.stem]
            sent = _file_records(csv_file)
            rebuilt = _stored_records(con, contract, study, site, transfer_id)
            # Columns the contract has but the file lacked read NULL in the store.
            rebuilt = {line: {k: v for k, v in r.items() if k in sent[line]} for line, r in rebuilt.items()}
            assert rebuilt == sent, f"{csv_file} differs from its rebuild"
            compared += len(sent)
    assert compared == sum(rows for t in store["synth"].transfers for _, rows in t.files.values())


def test_history_grows_with_change_not_with_transfers(store):
    con = store["con"]
    rows_sent = con.execute("SELECT sum(ROWS_LOADED) FROM audit.reconciliation").fetchone()[0]
    versions = sum(con.execute(f"SELECT count(*) FROM history.{d.lower()}").fetchone()[0] for d in load_contracts())
    runs = con.execute("SELECT count(*) FROM history.layout").fetchone()[0]
    changes = dict(con.execute("SELECT CHANGE, count(*) FROM history.changes GROUP BY 1").fetchall())
    # Each site's second transfer repeats most of its first one: stored once.
    assert versions < 0.7 * rows_sent
    assert versions == changes["inserted"] + changes["changed"]
    assert runs < rows_sent / 20  # a handful of runs per file, not a row per record


def _general_road(con, contract, ref, valid_path, site):
    """A first transfer through the general steps (an empty predecessor)."""
    history._previous_versions(con, contract, site, None)
    history._match(con, contract, valid_path)
    history._insert_versions(con, contract, ref, valid_path)
    history._insert_runs(con, site, ref.transfer_id)
    return history._insert_changes(con, site, ref.transfer_id)


def test_a_first_transfer_takes_a_shorter_road_to_the_same_store(store, tmp_path, monkeypatch):
    """history._load_first (a site's first accepted transfer) against the general
    steps it replaces: versions (ids, keys, hashes, values), runs and changes
    equal, row for row, on a landing with quarantined lines (gaps in the runs).
    Its changes are not written out (history.first_loads names the transfer), so
    the view history.changes is compared, not the tables behind it."""
    monkeypatch.setattr(history, "_load_first", _general_road)
    con = duckdb.connect(str(tmp_path / "general.duckdb"))
    ingest_landing(con, store["root"] / "landing", load_studies(), tmp_path / "work", "run-1")
    con.close()
    short = store["con"]
    short.execute(f"ATTACH '{tmp_path / 'general.duckdb'}' AS general (READ_ONLY)")
    try:
        tables = [
            t
            for (t,) in short.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'history' ORDER BY 1"
            ).fetchall()
        ]
        assert {"layout", "change_log", "first_loads", "dm", "gf"} <= set(tables)
        for table in [t for t in tables if t not in ("change_log", "first_loads")] + ["changes"]:
            differ = short.execute(
                f"SELECT count(*) FROM ((FROM history.{table} EXCEPT ALL FROM general.history.{table}) "
                f"UNION ALL (FROM general.history.{table} EXCEPT ALL FROM history.{table}))"
            ).fetchone()[0]
            assert differ == 0, table
        assert short.execute("SELECT count(*) FROM history.layout WHERE N > 0").fetchone()[0] > 0
    finally:
        short.execute("DETACH general")


def _one_site(tmp_path: Path, *transfers: tuple[str, dict]):
    landing = tmp_path / "landing"
    for transfer_id, files in transfers:
        write_transfer(landing, transfer_id, files)
    con = duckdb.connect(str(tmp_path / "h.duckdb"))
    ingest_landing(con, landing, {STUDY: study_config()}, tmp_path / "work", "run")
    return con


def test_changes_name_what_each_transfer_inserted_changed_and_dropped(tmp_path):
    first = base_files(subjects=("001", "002", "003"))
    second = base_files(subjects=("001", "002", "003"))
    # 002 changes (AGE), 003 is dropped, 004 is new; 001 is sent again unchanged.
    second["DM.csv"] = csv_text([dm_row("001"), dm_row("002", AGE="65"), dm_row("004")])
    con = _one_site(tmp_path, ("20250101T000000Z", first), ("20250201T000000Z", second))
    changes = con.execute(
        "SELECT TRANSFER_ID, RECORD_KEY, CHANGE, VERSION_ID IS NULL, PREVIOUS_VERSION_ID IS NULL "
        "FROM history.changes WHERE DOMAIN = 'DM' ORDER BY 1, 2"
    ).fetchall()
    u = f"{STUDY}-{SITE}-"
    assert changes == [
        ("20250101T000000Z", f"{u}001", "inserted", False, True),
        ("20250101T000000Z", f"{u}002", "inserted", False, True),
        ("20250101T000000Z", f"{u}003", "inserted", False, True),
        ("20250201T000000Z", f"{u}002", "changed", False, False),
        ("20250201T000000Z", f"{u}003", "dropped", True, False),
        ("20250201T000000Z", f"{u}004", "inserted", False, True),
    ]
    # 001 is one version held by both transfers; its line is the same in both.
    rows = con.execute("SELECT _transfer_id, _source_line, _record_key, AGE FROM raw.dm ORDER BY 1, 2").fetchall()
    assert rows == [
        ("20250101T000000Z", 2, f"{u}001", "64"),
        ("20250101T000000Z", 3, f"{u}002", "64"),
        ("20250101T000000Z", 4, f"{u}003", "64"),
        ("20250201T000000Z", 2, f"{u}001", "64"),
        ("20250201T000000Z", 3, f"{u}002", "65"),
        ("20250201T000000Z", 4, f"{u}004", "64"),
    ]
    assert con.execute("SELECT count(*) FROM history.dm").fetchone()[0] == 5  # 001 stored once
    con.close()


def test_a_quoted_line_break_and_a_blank_line_keep_their_physical_lines(tmp_path):
    files = base_files(subjects=("001", "002"))
    # Record 1 spans lines 2-3 (a quoted line break in AETERM), line 4 is blank, record 2 is on line 5.
    files["AE.csv"] = files["AE.csv"].replace("Nausea,Nausea", '"Nausea\nmild",Nausea', 1)
    lines = files["AE.csv"].split("\n")
    files["AE.csv"] = "\n".join([*lines[:3], "", *lines[3:]])
    con = _one_site(tmp_path, ("20250101T000000Z", files))
    assert con.execute("SELECT _source_line, AETERM FROM raw.ae ORDER BY 1").fetchall() == [
        (2, "Nausea\nmild"),
        (5, "Nausea"),
    ]
    con.close()


def test_a_store_from_before_the_changes_view_keeps_its_changes(tmp_path):
    """A store whose history.changes was a table (first transfers' inserts written
    out): the table becomes history.change_log, the view reads its rows once."""
    contracts = load_contracts()
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE SCHEMA history")
    con.execute(
        "CREATE TABLE history.changes (DOMAIN VARCHAR, STUDYID VARCHAR, SITEID VARCHAR, TRANSFER_ID VARCHAR, "
        "RECORD_KEY VARCHAR, CHANGE VARCHAR, VERSION_ID BIGINT, PREVIOUS_VERSION_ID BIGINT)"
    )
    con.execute("INSERT INTO history.changes VALUES ('DM', 'S', '1', 'T1', 'S-1-001', 'inserted', 2, NULL)")
    history.ensure_history(con, contracts)
    history.ensure_history(con, contracts)  # again: nothing renamed twice, nothing recreated
    assert con.execute("SELECT * FROM history.changes").fetchall() == [
        ("DM", "S", "1", "T1", "S-1-001", "inserted", 2, None)
    ]
    kinds = dict(
        con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'history' "
            "AND table_name IN ('changes', 'change_log')"
        ).fetchall()
    )
    assert kinds == {"changes": "VIEW", "change_log": "BASE TABLE"}


def test_a_store_whose_versions_held_key_and_hash_drops_them_and_reads_the_same(tmp_path):
    """A store from when every version was written with its record key and
    content hash (``_record_key``, ``_row_hash``): on opening, both columns go
    (they are computed from the values where they are read); raw.* gives the
    same rows, record keys included, and the next transfer is still matched
    against the stored versions: one record changed, the others kept."""
    first = base_files(subjects=("001", "002"))
    con = _one_site(tmp_path, ("20250101T000000Z", first))
    contracts = load_contracts()
    dm = contracts["DM"]
    # Make it the older layout: the two columns, filled as the loader used to write them.
    con.execute("ALTER TABLE history.dm ADD COLUMN _record_key VARCHAR")
    con.execute("ALTER TABLE history.dm ADD COLUMN _row_hash UHUGEINT")
    con.execute(
        f"UPDATE history.dm SET _record_key = {history.record_key_sql(dm)}, _row_hash = {history.row_hash_sql(dm)}"
    )
    older_view = history.transfer_rows_sql(dm).replace(f"{history.record_key_sql(dm, 'v')} AS", "v._record_key AS")
    assert "v._record_key AS" in older_view
    con.execute(f"CREATE OR REPLACE VIEW raw.dm AS {older_view}")
    before = con.execute("SELECT * FROM raw.dm ORDER BY _source_line").fetchall()
    history.ensure_history(con, contracts)
    columns = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'history' AND table_name = 'dm'"
        ).fetchall()
    ]
    assert "_record_key" not in columns and "_row_hash" not in columns
    assert con.execute("SELECT * FROM raw.dm ORDER BY _source_line").fetchall() == before
    u = f"{STUDY}-{SITE}-"
    assert [r[-1] for r in before] == [f"{u}001", f"{u}002"]

    second = base_files(subjects=("001", "002"))
    second["DM.csv"] = csv_text([dm_row("001"), dm_row("002", AGE="65")])
    write_transfer(tmp_path / "landing", "20250201T000000Z", second)
    ingest_landing(con, tmp_path / "landing", {STUDY: study_config()}, tmp_path / "work", "run-2", contracts)
    assert con.execute(
        "SELECT RECORD_KEY, CHANGE FROM history.changes WHERE DOMAIN = 'DM' AND TRANSFER_ID = '20250201T000000Z'"
    ).fetchall() == [(f"{u}002", "changed")]
    assert con.execute("SELECT count(*) FROM history.dm").fetchone()[0] == 3
    con.close()


def test_a_record_whose_extra_column_changes_is_a_new_version(tmp_path):
    """The content hash covers a column the contract does not know (_extra): the
    same DM record sent again with another NOTE is ``changed``; sent again as it
    was, it keeps its version."""
    first = base_files(subjects=("001", "002"))
    first["DM.csv"] = csv_text([dm_row("001", NOTE="a"), dm_row("002", NOTE="b")])
    second = base_files(subjects=("001", "002"))
    second["DM.csv"] = csv_text([dm_row("001", NOTE="a"), dm_row("002", NOTE="c")])
    con = _one_site(tmp_path, ("20250101T000000Z", first), ("20250201T000000Z", second))
    u = f"{STUDY}-{SITE}-"
    assert con.execute(
        "SELECT RECORD_KEY, CHANGE FROM history.changes WHERE DOMAIN = 'DM' AND TRANSFER_ID = '20250201T000000Z'"
    ).fetchall() == [(f"{u}002", "changed")]
    extras = con.execute("SELECT _transfer_id, CAST(_extra AS VARCHAR) FROM raw.dm ORDER BY 1, _source_line").fetchall()
    assert [json.loads(e)["NOTE"] for _, e in extras] == ["a", "b", "a", "c"]


def test_a_file_sent_again_byte_for_byte_copies_its_runs_to_the_same_store(store, tmp_path, monkeypatch):
    """history._load_same_file (the predecessor's file of the domain, byte for byte)
    against the general steps it replaces, on the same landing: every history
    table and the view history.changes equal, row for row. The synth landing's
    second transfers repeat their single-cell files unchanged, so the shortcut is
    taken there (and only where the bytes are the same)."""
    taken = []
    same_file = history._load_same_file

    def recording(con, contract, ref, valid_path, site, previous, sent_again, rows_loaded):
        counts = same_file(con, contract, ref, valid_path, site, previous, sent_again, rows_loaded)
        taken.append((contract.domain, counts is not None))
        return counts

    monkeypatch.setattr(history, "_load_same_file", recording)
    con = duckdb.connect(str(tmp_path / "same.duckdb"))
    ingest_landing(con, store["root"] / "landing", load_studies(), tmp_path / "work-same", "run-1")
    con.close()
    assert {domain for domain, copied in taken if copied} >= {"GF", "CP", "SC"}
    assert {domain for domain, copied in taken if not copied} >= {"DM", "LB"}

    monkeypatch.setattr(history, "_load_same_file", lambda *args: None)
    general = duckdb.connect(str(tmp_path / "general.duckdb"))
    ingest_landing(general, store["root"] / "landing", load_studies(), tmp_path / "work-general", "run-1")
    general.execute(f"ATTACH '{tmp_path / 'same.duckdb'}' AS same (READ_ONLY)")
    tables = [
        t
        for (t,) in general.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'history' ORDER BY 1"
        ).fetchall()
    ]
    for table in [*tables, "changes"]:
        differ = general.execute(
            f"SELECT count(*) FROM ((FROM history.{table} EXCEPT ALL FROM same.history.{table}) "
            f"UNION ALL (FROM same.history.{table} EXCEPT ALL FROM history.{table}))"
        ).fetchone()[0]
        assert differ == 0, table
    general.close()


def test_a_file_sent_again_whose_lines_validate_otherwise_is_matched_record_by_record(tmp_path):
    """The same AE bytes, but subject 002 left DM: its AE row is now an orphan and
    quarantined, so the predecessor's runs cannot be copied; the general steps
    say the record was dropped, and the transfer holds 001's row only."""
    first = base_files(subjects=("001", "002"))
    second = base_files(subjects=("001", "002"))
    second["DM.csv"] = csv_text([dm_row("001")])
    assert second["AE.csv"] == first["AE.csv"]
    con = _one_site(tmp_path, ("20250101T000000Z", first), ("20250201T000000Z", second))
    u = f"{STUDY}-{SITE}-"
    assert con.execute(
        "SELECT RECORD_KEY, CHANGE FROM history.changes WHERE DOMAIN = 'AE' AND TRANSFER_ID = '20250201T000000Z'"
    ).fetchall() == [(f"{u}002|1", "dropped")]
    assert con.execute(
        "SELECT _source_line, USUBJID FROM raw.ae WHERE _transfer_id = '20250201T000000Z'"
    ).fetchall() == [(2, f"{u}001")]
    con.close()


def test_a_file_sent_again_under_a_contract_with_a_new_column_gets_new_versions(tmp_path):
    """DM sent twice byte for byte, with a NOTE column the contract did not know
    at the first load (kept in _extra) and knows at the second: the bytes are the
    same but the records are not stored the same way, so they are new versions
    (changed), with NOTE in its column, as on the general steps."""
    dm = csv_text([dm_row("001", NOTE="a"), dm_row("002", NOTE="b")])
    first, second = base_files(), base_files()
    first["DM.csv"] = second["DM.csv"] = dm
    landing = tmp_path / "landing"
    write_transfer(landing, "20250101T000000Z", first)
    con = duckdb.connect(str(tmp_path / "h.duckdb"))
    ingest_landing(con, landing, {STUDY: study_config()}, tmp_path / "work", "run-1")
    contracts = load_contracts()
    contracts["DM"] = dataclasses.replace(
        contracts["DM"], columns=(*contracts["DM"].columns, ColumnSpec("NOTE", required=False, nullable=True))
    )
    write_transfer(landing, "20250201T000000Z", second)
    ingest_landing(con, landing, {STUDY: study_config()}, tmp_path / "work", "run-2", contracts)
    u = f"{STUDY}-{SITE}-"
    assert con.execute(
        "SELECT RECORD_KEY, CHANGE FROM history.changes WHERE DOMAIN = 'DM' AND TRANSFER_ID = '20250201T000000Z' "
        "ORDER BY 1"
    ).fetchall() == [(f"{u}001", "changed"), (f"{u}002", "changed")]
    history.ensure_history(con, contracts)
    assert con.execute(
        "SELECT NOTE, CAST(_extra AS VARCHAR) FROM raw.dm WHERE _transfer_id = '20250201T000000Z' ORDER BY 1"
    ).fetchall() == [("a", None), ("b", None)]
    con.close()
