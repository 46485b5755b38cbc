"""Loading into a real DuckDB file: raw tables, reconciliation, CURRENT/superseded,
and the findings life cycle across cumulative transfers."""

from __future__ import annotations

import duckdb
import pytest

from tests.helpers.transfers import (
    SITE,
    STUDY,
    ae_row,
    base_files,
    csv_text,
    dm_row,
    lb_row,
    study_config,
    write_transfer,
)
from trialdw.ingest import ingest_landing, load_contracts, load_transfer
from trialdw.ingest.rows import validate_transfer
from trialdw.ingest.transfers import check_transfer, discover

T1, T2, T3 = "20250301T020000Z", "20250401T020000Z", "20250501T020000Z"
S1 = f"{STUDY}-{SITE}-001"
S2 = f"{STUDY}-{SITE}-002"


@pytest.fixture(scope="module")
def contracts():
    return load_contracts()


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def run(con, tmp_path, contracts, run_id="run-1"):
    return ingest_landing(con, tmp_path / "landing", {STUDY: study_config()}, tmp_path / "work", run_id, contracts)


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_raw_table_columns_are_contract_columns_then_lineage(tmp_path, con, contracts):
    write_transfer(tmp_path / "landing", T1, base_files())
    run(con, tmp_path, contracts)
    columns = rows(
        con,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name = 'dm' ORDER BY ordinal_position",
    )
    assert columns == [(c, "VARCHAR") for c in contracts["DM"].column_names] + [
        ("_studyid", "VARCHAR"),
        ("_siteid", "VARCHAR"),
        ("_transfer_id", "VARCHAR"),
        ("_source_file", "VARCHAR"),
        ("_source_line", "BIGINT"),
        ("_extra", "JSON"),
        ("_record_key", "VARCHAR"),  # computed once by the history view, read by every later step
    ]
    assert rows(con, "SELECT USUBJID, AGE, DTHDTC, _source_file, _source_line FROM raw.dm ORDER BY 1") == [
        (S1, "64", None, f"{STUDY}/{SITE}/{T1}/DM.csv", 2),
        (S2, "64", None, f"{STUDY}/{SITE}/{T1}/DM.csv", 3),
    ]


def test_reconciliation_adds_up_and_a_rerun_does_no_work(tmp_path, con, contracts):
    files = base_files()
    files["AE.csv"] = csv_text([ae_row(S1, 1), ae_row(S1, 2, AESER="?"), ae_row(S2, 1, AETOXGR="7", AESER="?")])
    write_transfer(tmp_path / "landing", T1, files)
    summary = run(con, tmp_path, contracts)
    assert (summary.rows_loaded, summary.rows_quarantined) == (11, 2)
    assert rows(
        con, "SELECT DOMAIN, ROWS_SENT, ROWS_LOADED, ROWS_QUARANTINED FROM audit.reconciliation WHERE DOMAIN = 'AE'"
    ) == [("AE", 3, 1, 2)]
    assert rows(con, "SELECT count(*) FROM audit.reconciliation WHERE ROWS_LOADED + ROWS_QUARANTINED <> ROWS_SENT") == [
        (0,)
    ]
    assert rows(con, "SELECT SOURCE_LINE, RULES, RECORD->>'AETOXGR' FROM audit.quarantine ORDER BY 1") == [
        (3, "codelist", "1"),
        (4, "codelist", "7"),
    ]
    assert rows(con, "SELECT STATUS, CURRENT, RUN_ID FROM audit.transfers") == [("accepted", "Y", "run-1")]
    assert rows(con, "SELECT FILE_NAME, DOMAIN, MANIFEST_ROWS, STATUS FROM audit.files ORDER BY 1")[0] == (
        "AE.csv",
        "AE",
        3,
        "ok",
    )

    again = run(con, tmp_path, contracts, run_id="run-2")
    assert again.processed == [] and again.skipped == [(STUDY, SITE, T1)]
    # Re-sent under the same TRANSFER_ID with other content: reported, nothing overwritten.
    write_transfer(tmp_path / "landing", T1, base_files(subjects=("001",)))
    resent = run(con, tmp_path, contracts, run_id="run-3")
    assert (resent.processed, resent.conflicts) == ([], [(STUDY, SITE, T1)])
    assert rows(con, "SELECT count(*) FROM raw.ae") == [(1,)]
    with pytest.raises(RuntimeError, match="already loaded"):
        (ref,) = discover(tmp_path / "landing")
        check = check_transfer(ref, study_config(), contracts)
        load_transfer(con, validate_transfer(ref, check, study_config(), contracts, tmp_path / "w2"), contracts)


def test_findings_life_cycle_across_cumulative_transfers(tmp_path, con, contracts):
    landing = tmp_path / "landing"
    # T1: two defects. AE end before start (S1) and a lab value below 0 (S2).
    files = base_files()
    files["AE.csv"] = csv_text([ae_row(S1, 1, AEENDTC="2025-01-20"), ae_row(S2, 1)])
    files["LB.csv"] = csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(S2, "AFP", "2025-01-05", LBSTRESN="-1")])
    write_transfer(landing, T1, files)
    # T2 (cumulative): the AE is corrected, the lab value persists, one row more comes first so lines move.
    files2 = dict(files)
    files2["AE.csv"] = csv_text([ae_row(S1, 1), ae_row(S2, 1)])
    files2["LB.csv"] = csv_text(
        [
            lb_row(S1, "ALT", "2025-02-05"),
            lb_row(S1, "AFP", "2025-01-05"),
            lb_row(S2, "AFP", "2025-01-05", LBSTRESN="-1"),
        ]
    )
    write_transfer(landing, T2, files2)
    run(con, tmp_path, contracts)

    found = {
        r[0]: r[1:]
        for r in rows(
            con,
            """
        SELECT RULE, STATUS, FIRST_SEEN_TRANSFER, LAST_SEEN_TRANSFER, RESOLVED_TRANSFER, SOURCE_LINE, RECORD_KEY
        FROM audit.findings""",
        )
    }
    assert found == {
        "not_before": ("resolved", T1, T1, T2, 2, f"{S1}|1"),
        "range": ("open", T1, T2, None, 4, f"{S2}|AFP|2025-01-05"),
    }
    lab_id = rows(con, "SELECT FINDING_ID FROM audit.findings WHERE RULE = 'range'")[0][0]
    assert rows(
        con, "SELECT TRANSFER_ID, SOURCE_LINE FROM audit.finding_occurrences WHERE FINDING_ID = ? ORDER BY 1", [lab_id]
    ) == [(T1, 3), (T2, 4)]
    assert rows(con, "SELECT TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1") == [
        (T1, "superseded", None),
        (T2, "accepted", "Y"),
    ]


def test_rejected_transfer_keeps_previous_current_until_a_later_one_is_accepted(tmp_path, con, contracts):
    landing = tmp_path / "landing"
    files = base_files()
    files["LB.csv"] = csv_text([lb_row(S1, "AFP", "2025-01-05", LBSTRESN="-1"), lb_row(S2, "AFP", "2025-01-05")])
    write_transfer(landing, T1, files)
    bad = write_transfer(landing, T2, files)
    (bad / "DM.csv").write_text(csv_text([dm_row("001"), dm_row("002", SEX="F")]), encoding="utf-8")
    run(con, tmp_path, contracts)

    assert rows(con, "SELECT TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1") == [
        (T1, "accepted", "Y"),
        (T2, "rejected", None),
    ]
    assert rows(con, "SELECT REASON FROM audit.transfers WHERE TRANSFER_ID = ?", [T2])[0][0].startswith(
        "DM.csv sha256 is "
    )
    # The rejected transfer's rows were never checked: the T1 row finding stays open.
    assert rows(con, "SELECT RULE, STATUS, LAST_SEEN_TRANSFER, SOURCE_LINE FROM audit.findings ORDER BY RULE") == [
        ("checksum", "open", T2, None),
        ("range", "open", T1, 2),
    ]
    assert rows(con, "SELECT count(*) FROM raw.dm WHERE _transfer_id = ?", [T2]) == [(0,)]

    fixed = dict(files)
    fixed["LB.csv"] = csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(S2, "AFP", "2025-01-05")])
    write_transfer(landing, T3, fixed)
    summary = run(con, tmp_path, contracts, run_id="run-2")
    assert summary.processed == [(STUDY, SITE, T3, "accepted")]
    assert rows(con, "SELECT TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1") == [
        (T1, "superseded", None),
        (T2, "rejected", None),
        (T3, "accepted", "Y"),
    ]
    assert rows(
        con, "SELECT RULE, STATUS, LAST_SEEN_TRANSFER, RESOLVED_TRANSFER FROM audit.findings ORDER BY RULE"
    ) == [("checksum", "resolved", T2, T3), ("range", "resolved", T1, T3)]


def test_incomplete_transfer_is_recorded_then_processed_when_its_manifest_arrives(tmp_path, con, contracts):
    landing = tmp_path / "landing"
    write_transfer(landing, T1, base_files(), manifest=False)
    first = run(con, tmp_path, contracts)
    assert first.processed == [(STUDY, SITE, T1, "incomplete")]
    assert rows(con, "SELECT STATUS, CURRENT FROM audit.transfers") == [("incomplete", None)]
    assert rows(con, "SELECT count(*) FROM audit.findings") == [(0,)]
    write_transfer(landing, T1, base_files())
    second = run(con, tmp_path, contracts, run_id="run-2")
    assert second.processed == [(STUDY, SITE, T1, "accepted")]
    assert rows(con, "SELECT STATUS, CURRENT, RUN_ID FROM audit.transfers") == [("accepted", "Y", "run-2")]


def test_badly_named_folder_does_not_block_the_life_cycle(tmp_path, con, contracts):
    landing = tmp_path / "landing"
    files = base_files()
    files["LB.csv"] = csv_text([lb_row(S1, "AFP", "2025-01-05", LBSTRESN="-1"), lb_row(S2, "AFP", "2025-01-05")])
    write_transfer(landing, T1, files)
    write_transfer(landing, "latest", files)  # sorts after every TRANSFER_ID
    run(con, tmp_path, contracts)
    assert rows(con, "SELECT RULE, STATUS, LAST_SEEN_TRANSFER FROM audit.findings ORDER BY RULE") == [
        ("folder_name", "open", "latest"),
        ("range", "open", T1),
    ]

    fixed = dict(files)
    fixed["LB.csv"] = csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(S2, "AFP", "2025-01-05")])
    write_transfer(landing, T2, fixed)
    run(con, tmp_path, contracts, run_id="run-2")
    assert rows(con, "SELECT TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1") == [
        (T1, "superseded", None),
        (T2, "accepted", "Y"),
        ("latest", "rejected", None),
    ]
    assert rows(con, "SELECT RULE, STATUS, RESOLVED_TRANSFER FROM audit.findings ORDER BY RULE") == [
        ("folder_name", "resolved", T2),
        ("range", "resolved", T2),
    ]


def test_visit_reaches_audit_findings_and_an_older_audit_schema_gets_the_columns(tmp_path, con, contracts):
    # An audit.findings made before VISIT/VISITNUM existed (its 18 columns, in order).
    con.execute("CREATE SCHEMA audit")
    con.execute(
        """CREATE TABLE audit.findings (FINDING_ID VARCHAR PRIMARY KEY, STUDYID VARCHAR, SITEID VARCHAR,
           DOMAIN VARCHAR, USUBJID VARCHAR, RECORD_KEY VARCHAR, SOURCE_FILE VARCHAR, SOURCE_LINE BIGINT,
           COLUMN_NAME VARCHAR, VALUE VARCHAR, RULE VARCHAR, SEVERITY VARCHAR, MESSAGE VARCHAR, CATEGORY VARCHAR,
           STATUS VARCHAR, FIRST_SEEN_TRANSFER VARCHAR, LAST_SEEN_TRANSFER VARCHAR, RESOLVED_TRANSFER VARCHAR)"""
    )
    files = base_files()
    files["LB.csv"] = csv_text(
        [lb_row(S1, "AFP", "2025-01-05", VISIT="WEEK 6", LBSTRESN="-2"), lb_row(S2, "AFP", "2025-01-05")]
    )
    write_transfer(tmp_path / "landing", T1, files)
    run(con, tmp_path, contracts)
    assert rows(con, "SELECT column_name FROM information_schema.columns WHERE table_name = 'findings'")[-2:] == [
        ("VISIT",),
        ("VISITNUM",),
    ]
    assert rows(con, "SELECT RULE, SOURCE_LINE, VISIT, VISITNUM FROM audit.findings") == [("range", 2, "WEEK 6", None)]
    # The next transfer moves the row to another visit: the open finding shows where it is now.
    files["LB.csv"] = files["LB.csv"].replace("WEEK 6", "WEEK 12")
    write_transfer(tmp_path / "landing", T2, files)
    run(con, tmp_path, contracts, run_id="run-2")
    assert rows(con, "SELECT STATUS, LAST_SEEN_TRANSFER, VISIT FROM audit.findings") == [("open", T2, "WEEK 12")]


def test_an_orphan_root_cause_keeps_its_identity_across_transfers(tmp_path, con, contracts):
    """Subject 002's DM row is quarantined in T1 and T2 (lines move), fixed in T3."""
    landing = tmp_path / "landing"
    write_transfer(landing, T1, {**base_files(), "DM.csv": csv_text([dm_row("001"), dm_row("002", SEX="Q")])})
    write_transfer(
        landing, T2, {**base_files(), "DM.csv": csv_text([dm_row("000"), dm_row("001"), dm_row("002", SEX="Q")])}
    )
    write_transfer(landing, T3, base_files())
    run(con, tmp_path, contracts)
    assert rows(
        con,
        """SELECT RULE, STATUS, FIRST_SEEN_TRANSFER, LAST_SEEN_TRANSFER, RESOLVED_TRANSFER, SOURCE_LINE
           FROM audit.findings WHERE RULE IN ('orphan_subject', 'codelist') ORDER BY RULE""",
    ) == [("codelist", "resolved", T1, T2, T3, 4), ("orphan_subject", "resolved", T1, T2, T3, 4)]
    assert rows(
        con,
        """SELECT o.TRANSFER_ID, o.SOURCE_FILE, o.SOURCE_LINE FROM audit.finding_occurrences o
           JOIN audit.findings f USING (FINDING_ID) WHERE f.RULE = 'orphan_subject' ORDER BY 1""",
    ) == [(T1, f"{STUDY}/{SITE}/{T1}/DM.csv", 3), (T2, f"{STUDY}/{SITE}/{T2}/DM.csv", 4)]
    # Every held-back row is in the quarantine with rule orphan, once per transfer.
    assert rows(
        con, "SELECT TRANSFER_ID, count(*) FROM audit.quarantine WHERE RULES = 'orphan' GROUP BY 1 ORDER BY 1"
    ) == [(T1, 5), (T2, 5)]


def _validated(tmp_path, contracts, files):
    write_transfer(tmp_path / "landing", T1, files)
    (ref,) = discover(tmp_path / "landing")
    return validate_transfer(
        ref, check_transfer(ref, study_config(), contracts), study_config(), contracts, tmp_path / "w"
    )


def test_the_load_is_proved_from_the_database_per_file(tmp_path, con, contracts):
    """Loaded + quarantined = sent, counted in the store after the load (once per
    transfer, by domain): a quarantine file that lost a row fails that domain's
    proof, naming the file, and nothing of the transfer stays."""
    import pyarrow.parquet as pq

    from trialdw import history
    from trialdw.ingest.load import ensure_audit
    from trialdw.ingest.types import ReconciliationError

    files = base_files()
    files["LB.csv"] = csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(S2, "AFP", "2025-01-05", LBSTRESN="-1")])
    validated = _validated(tmp_path, contracts, files)
    lb = next(d for d in validated.domains if d.domain == "LB")
    assert (lb.rows_loaded, lb.rows_quarantined) == (1, 1)
    pq.write_table(pq.read_table(lb.quarantine_path).slice(0, 0), lb.quarantine_path)  # the quarantined row lost
    ensure_audit(con)
    history.ensure_history(con, contracts)
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(
        ReconciliationError, match=r"LB\.csv: database holds 1 loaded \+ 0 quarantined rows, the file had 2"
    ):
        load_transfer(con, validated, contracts)
    con.execute("ROLLBACK")
    assert rows(con, "SELECT count(*) FROM history.layout") == [(0,)]


def test_a_transfer_in_the_history_is_not_loaded_twice(tmp_path, con, contracts):
    from trialdw import history
    from trialdw.ingest.load import ensure_audit

    validated = _validated(tmp_path, contracts, base_files())
    ensure_audit(con)
    history.ensure_history(con, contracts)
    load_transfer(con, validated, contracts)
    con.execute("DELETE FROM audit.reconciliation")  # as if only the history kept it
    with pytest.raises(RuntimeError, match=rf"{STUDY}/{SITE}/{T1} is already in the history \(AE\)"):
        load_transfer(con, validated, contracts)
