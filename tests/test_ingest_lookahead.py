"""The ingest with look-ahead (trialdw.ingest.landing.ingest_transfers): the next
transfer is checked and validated on a second thread while one loads.

It must leave the history store exactly as the one-by-one loop does, and an
unexpected error in one study must stop that study's later transfers only.
Real synth landings (planted defects included), real DuckDB files.
"""

from __future__ import annotations

import duckdb
import pytest

from trialdw import history
from trialdw.ingest import load_contracts
from trialdw.ingest.landing import ingest_transfer, ingest_transfers
from trialdw.ingest.load import ensure_audit
from trialdw.ingest.transfers import discover
from trialdw.ingest.types import IngestSummary
from trialdw.study_config import load_studies
from trialdw.synth import generate

pytestmark = pytest.mark.slow

REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
# Written when the transfer is recorded: they differ between two loads of one landing.
WALL_CLOCK_COLUMNS = {"RECEIVED_AT"}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("lookahead")
    generate(root / "landing", seed=5, subjects=4, sites=2, transfers=3)
    return root / "landing"


def _store(path, contracts):
    con = duckdb.connect(str(path))
    ensure_audit(con)
    history.ensure_history(con, contracts)
    return con


def _one_by_one(con, refs, studies, contracts, work_dir) -> list[tuple[str, str]]:
    return [
        (ref.relpath, ingest_transfer(con, ref, studies, contracts, work_dir, "run-1", IngestSummary())) for ref in refs
    ]


def _tables(con) -> dict[str, list[str]]:
    """Every table and view of the store with the columns compared (wall-clock ones left out)."""
    found: dict[str, list[str]] = {}
    for schema, table, column in con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "ORDER BY table_schema, table_name, ordinal_position"
    ).fetchall():
        if column.upper() not in WALL_CLOCK_COLUMNS:
            found.setdefault(f"{schema}.{table}", []).append(f'"{column}"')
    return found


def test_look_ahead_leaves_the_store_as_the_one_by_one_loop(tmp_path, landing):
    contracts, studies = load_contracts(), load_studies()
    refs = discover(landing)
    assert len(refs) == 2 * 2 * 3  # two studies, two sites, three transfers each

    one = _store(tmp_path / "one.duckdb", contracts)
    expected = _one_by_one(one, refs, studies, contracts, tmp_path / "work-one")
    ahead = _store(tmp_path / "ahead.duckdb", contracts)
    got = [
        (ref.relpath, outcome)
        for ref, outcome, _ in ingest_transfers(ahead, refs, studies, contracts, tmp_path / "work-ahead", "run-1")
    ]

    assert got == expected
    assert {outcome for _, outcome in got} == {"accepted"}
    tables = _tables(one)
    assert tables == _tables(ahead)
    assert "raw.dm" in tables and "audit.quarantine" in tables
    one.close()
    ahead.execute(f"ATTACH '{tmp_path / 'one.duckdb'}' AS one (READ_ONLY)")
    for table, columns in tables.items():
        cols = ", ".join(columns)
        differ = ahead.execute(
            f"SELECT count(*) FROM ((SELECT {cols} FROM ahead.{table} EXCEPT ALL SELECT {cols} FROM one.{table}) "
            f"UNION ALL (SELECT {cols} FROM one.{table} EXCEPT ALL SELECT {cols} FROM ahead.{table}))"
        ).fetchone()[0]
        assert differ == 0, table
    # The comparison covered loaded rows, quarantined rows and findings (planted defects).
    for table in ("raw.dm", "audit.quarantine", "audit.findings"):
        assert ahead.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
    ahead.close()


def test_an_unexpected_error_stops_that_study_only(tmp_path, landing):
    """A study's work folder that cannot be created (a file is in its way: a disk
    problem, not a data defect) fails its first transfer; its later transfers are
    not loaded, the other study's all are, and a second pass loads the rest."""
    contracts, studies = load_contracts(), load_studies()
    refs = discover(landing)
    work = tmp_path / "work"
    work.mkdir()
    (work / REGO).write_text("in the way", encoding="utf-8")
    con = _store(tmp_path / "store.duckdb", contracts)

    results = list(ingest_transfers(con, refs, studies, contracts, work, "run-1"))

    failed = [(ref.relpath, outcome) for ref, outcome, _ in results if isinstance(outcome, Exception)]
    assert len(failed) == 1
    assert failed[0][0] == refs[0].relpath and refs[0].study == REGO
    assert isinstance(failed[0][1], OSError)
    assert [ref.study for ref, _, _ in results] == [REGO] + [SURU] * 6
    assert all(outcome == "accepted" for _, outcome, _ in results[1:])
    loaded = con.execute("SELECT DISTINCT STUDYID FROM audit.transfers ORDER BY 1").fetchall()
    assert loaded == [(SURU,)]
    assert con.execute("SELECT count(*) FROM raw.dm WHERE _studyid = ?", [REGO]).fetchone()[0] == 0

    (work / REGO).unlink()
    again = {ref.relpath: outcome for ref, outcome, _ in ingest_transfers(con, refs, studies, contracts, work, "run-2")}
    assert [again[r.relpath] for r in refs if r.study == REGO] == ["accepted"] * 6
    assert [again[r.relpath] for r in refs if r.study == SURU] == ["skipped"] * 6
    con.close()


def test_the_log_is_folded_while_the_next_validation_runs(tmp_path, monkeypatch):
    """landing._checkpoint_while_waiting: only when the next transfer is not ready
    (the loading thread would wait anyway) and the log has grown past the mark."""
    from concurrent.futures import Future

    from trialdw.ingest import landing

    monkeypatch.setattr(landing, "IDLE_CHECKPOINT_BYTES", 1)
    con = duckdb.connect(str(tmp_path / "store.duckdb"), config={"checkpoint_threshold": "1GB"})
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
    assert landing._wal_bytes(con) > 0
    ready, waiting = Future(), Future()
    ready.set_result(None)
    landing._checkpoint_while_waiting(con, ready)  # the next one is ready: load it, no checkpoint
    assert landing._wal_bytes(con) > 0
    landing._checkpoint_while_waiting(con, waiting)
    assert landing._wal_bytes(con) == 0
    assert con.execute("SELECT count(*) FROM t").fetchone() == (1000,)
    con.close()
