"""A file a site sends again byte for byte is validated once per ingest
(trialdw.ingest.same_files): the same outcome, named for its own transfer,
and only when everything the outcome depends on is the same. Real CSV files,
real validation, a real DuckDB store."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from tests.helpers.transfers import (
    SITE,
    STUDY,
    ae_row,
    base_files,
    csv_text,
    dm_row,
    study_config,
    write_transfer,
)
from trialdw.ingest import ingest_landing, load_contracts
from trialdw.ingest.rows import validate_transfer
from trialdw.ingest.same_files import ValidatedFiles
from trialdw.ingest.transfers import check_transfer, discover

pytestmark = pytest.mark.slow
FIRST, SECOND = "20250101T000000Z", "20250201T000000Z"
U = f"{STUDY}-{SITE}-"


def _files(subjects=("001", "002"), dm_subjects=None) -> dict[str, str]:
    files = base_files(subjects=subjects)
    # AE: one row quarantined (grade 9), one warning-free, one with an extra column.
    files["AE.csv"] = csv_text(
        [ae_row(f"{U}001", 1, NOTE="x"), ae_row(f"{U}002", 1, AETOXGR="9"), ae_row(f"{U}002", 2, NOTE="")]
    )
    if dm_subjects is not None:
        files["DM.csv"] = csv_text([dm_row(s) for s in dm_subjects])
    return files


def _validate_both(tmp_path, second_files: dict[str, str]):
    """Both transfers validated in order with one ValidatedFiles, as an ingest does."""
    landing = tmp_path / "landing"
    write_transfer(landing, FIRST, _files())
    write_transfer(landing, SECOND, second_files)
    contracts, study, same = load_contracts(), study_config(), ValidatedFiles()
    validated = []
    for ref in discover(landing):
        check = check_transfer(ref, study, contracts, same_files=same)
        validated.append(validate_transfer(ref, check, study, contracts, tmp_path / "work", same))
    return validated


def test_the_check_of_a_file_sent_again_does_not_parse_its_records(tmp_path):
    """Its bytes are read (checksum, structure, record count); its records are not
    parsed when the same bytes were validated last, and are when they changed."""
    landing = tmp_path / "landing"
    write_transfer(landing, FIRST, _files())
    second = _files()
    second["LB.csv"] = second["LB.csv"].replace("12.5", "13.5")
    write_transfer(landing, SECOND, second)
    contracts, study, same = load_contracts(), study_config(), ValidatedFiles()
    parsed = {}
    for ref in discover(landing):
        check = check_transfer(ref, study, contracts, parse_dir=tmp_path / "parsed", same_files=same)
        assert check.accepted
        parsed[ref.transfer_id] = {f.domain: f.parsed is not None for f in check.files}
        records = {f.domain: f.records for f in check.files}
        assert records["AE"] == 3 and records["LB"] == 2
        validate_transfer(ref, check, study, contracts, tmp_path / "work", same)
    assert all(parsed[FIRST].values())
    assert parsed[SECOND] == {"DM": False, "AE": False, "EX": False, "TR": False, "LB": True}


def test_a_file_sent_again_gets_its_outcome_again_named_for_its_own_transfer(tmp_path):
    first, second = _validate_both(tmp_path, _files())
    ae1, ae2 = first.domain("AE"), second.domain("AE")
    assert ae2.valid_path == ae1.valid_path  # the same valid rows: not written again
    assert (ae2.rows_sent, ae2.rows_loaded, ae2.rows_quarantined) == (3, 2, 1)
    assert ae2.source_file == f"{STUDY}/{SITE}/{SECOND}/AE.csv"
    quarantined = pl.read_parquet(ae2.quarantine_path).row(0, named=True)
    assert (quarantined["TRANSFER_ID"], quarantined["SOURCE_FILE"], quarantined["SOURCE_LINE"]) == (
        SECOND,
        ae2.source_file,
        3,
    )
    assert json.loads(quarantined["RECORD"])["AETOXGR"] == "9"
    findings = {
        t: pl.read_parquet(v.findings_path).filter(pl.col("DOMAIN") == "AE").sort("SOURCE_LINE", "RULE")
        for t, v in ((FIRST, first), (SECOND, second))
    }
    assert findings[SECOND].get_column("RULE").to_list() == ["extra_columns", "codelist"]
    assert set(findings[SECOND].get_column("TRANSFER_ID")) == {SECOND}
    assert set(findings[SECOND].get_column("SOURCE_FILE")) == {ae2.source_file}
    # Everything else as the first transfer's (finding ids name no transfer).
    same_columns = [c for c in findings[FIRST].columns if c not in ("TRANSFER_ID", "SOURCE_FILE")]
    assert findings[SECOND].select(same_columns).equals(findings[FIRST].select(same_columns))


def test_the_same_bytes_with_other_subjects_in_dm_are_validated_again(tmp_path):
    """Subject 002 left DM: AE's bytes are the same but its 002 rows are orphans now."""
    _, second = _validate_both(tmp_path, _files(dm_subjects=("001",)))
    ae = second.domain("AE")
    assert ae.valid_path.parent.name == SECOND  # validated, not given again
    assert (ae.rows_loaded, ae.rows_quarantined) == (1, 2)
    assert pl.read_parquet(ae.quarantine_path).sort("SOURCE_LINE").select("SOURCE_LINE", "RULES").rows() == [
        (3, "codelist,orphan"),
        (4, "orphan"),
    ]


def test_the_same_bytes_after_a_subject_without_rows_in_them_joined_dm_are_given_again(tmp_path):
    """Subject 003 enrolled since (a DM row, no AE row): the orphan rule looks up
    AE's own subjects only (001, 002), both still in DM, so AE's outcome is given
    again; DM itself changed and is validated."""
    _, second = _validate_both(tmp_path, _files(dm_subjects=("001", "002", "003")))
    ae, dm = second.domain("AE"), second.domain("DM")
    assert ae.valid_path.parent.name == FIRST  # given again: the first transfer's valid rows
    assert (ae.rows_loaded, ae.rows_quarantined) == (2, 1)
    assert dm.valid_path.parent.name == SECOND and dm.rows_loaded == 3


def test_an_ingest_with_files_sent_again_stores_what_validating_each_stores(tmp_path, monkeypatch):
    """The whole store (history, quarantine, findings, reconciliation) of a landing
    whose second transfers repeat files, with and without giving outcomes again."""
    landing = tmp_path / "landing"
    write_transfer(landing, FIRST, _files())
    second = _files()
    second["LB.csv"] = second["LB.csv"].replace("12.5", "13.5")  # one file changed, the rest sent again
    write_transfer(landing, SECOND, second)
    studies = {STUDY: study_config()}
    given = []
    reuse = ValidatedFiles.reuse

    def recording(self, ref, info, contract, ctx, out_dir, findings):
        result = reuse(self, ref, info, contract, ctx, out_dir, findings)
        given.append((ref.transfer_id, contract.domain, result is not None))
        return result

    monkeypatch.setattr(ValidatedFiles, "reuse", recording)
    with duckdb.connect(str(tmp_path / "same.duckdb")) as con:
        ingest_landing(con, landing, studies, tmp_path / "work-same", "run")
    assert {d for t, d, g in given if g} == {"DM", "AE", "EX", "TR"}
    assert {d for t, d, g in given if t == SECOND and not g} == {"LB"}

    monkeypatch.setattr(ValidatedFiles, "reuse", lambda *args: None)
    with duckdb.connect(str(tmp_path / "each.duckdb")) as con:
        ingest_landing(con, landing, studies, tmp_path / "work-each", "run")
        con.execute(f"ATTACH '{tmp_path / 'same.duckdb'}' AS same (READ_ONLY)")
        tables = [
            f"{schema}.{table}"
            for schema, table in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name IN ('history', 'audit') AND table_name IN ('layout', 'change_log', 'first_loads', "
                "'ae', 'dm', 'lb', 'quarantine', 'findings', 'reconciliation', 'files') ORDER BY 1, 2"
            ).fetchall()
        ]
        assert len(tables) == 10
        for table in tables:
            differ = con.execute(
                f"SELECT count(*) FROM ((FROM {table} EXCEPT ALL FROM same.{table}) "
                f"UNION ALL (FROM same.{table} EXCEPT ALL FROM {table}))"
            ).fetchone()[0]
            assert differ == 0, table
        assert (
            con.execute(
                "SELECT count(*) FROM audit.quarantine WHERE TRANSFER_ID = ? AND SOURCE_FILE LIKE ?",
                [SECOND, f"%/{SECOND}/AE.csv"],
            ).fetchone()[0]
            == 1
        )
