"""Transfer-level checks on real folders: every rejection of site-exports.md
"Validation outcomes", each asserted by its rule and its message."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers.transfers import SITE, STUDY, ae_row, base_files, csv_text, dm_row, study_config, write_transfer
from trialdw.ingest.contracts import load_contracts
from trialdw.ingest.transfers import check_transfer, discover

TID = "20250301T020000Z"


@pytest.fixture(scope="module")
def contracts():
    return load_contracts()


def check(landing, contracts, study=None):
    (ref,) = discover(landing)
    return check_transfer(ref, study or study_config(), contracts)


def rejected_rules(result) -> dict[str, str]:
    assert result.status == "rejected"
    return {f["RULE"]: f["MESSAGE"] for f in result.findings if f["SEVERITY"] == "reject"}


def test_valid_transfer_is_accepted_with_file_infos(tmp_path, contracts):
    write_transfer(tmp_path, TID, base_files())
    result = check(tmp_path, contracts)
    assert result.status == "accepted" and result.reason is None
    assert [f["RULE"] for f in result.findings] == []
    dm = next(f for f in result.files if f.name == "DM.csv")
    assert (dm.domain, dm.manifest_rows, dm.records, dm.status) == ("DM", 2, 2, "ok")
    assert len(dm.sha256) == 64
    assert result.contract_versions == {"AE": "1.0", "DM": "1.1", "EX": "1.1", "LB": "1.0", "TR": "1.0"}


def test_parsed_records_are_kept_in_the_given_folder_while_the_check_lives(tmp_path, contracts):
    """The night passes its work folder (cleared by the next run), so a night
    killed mid-ingest leaves no parsed records in the system's temp folder."""
    import gc

    write_transfer(tmp_path / "landing", TID, base_files())
    (ref,) = discover(tmp_path / "landing")
    result = check_transfer(ref, study_config(), contracts, parse_dir=tmp_path / "work")
    parsed = {f.name: f.parsed.path for f in result.files if f.parsed is not None}
    assert sorted(parsed) == ["AE.csv", "DM.csv", "EX.csv", "LB.csv", "TR.csv"]
    folders = {path.parent for path in parsed.values()}
    assert len(folders) == 1 and next(iter(folders)).parent == tmp_path / "work"
    assert all(path.is_file() for path in parsed.values())
    del result
    gc.collect()
    assert list((tmp_path / "work").iterdir()) == []  # gone with the check


def test_discover_sorts_and_flags_incomplete_and_badly_named_folders(tmp_path, contracts):
    write_transfer(tmp_path, "20250401T020000Z", base_files())
    write_transfer(tmp_path, TID, base_files())
    write_transfer(tmp_path, "20250501T020000Z", base_files(), manifest=False)
    write_transfer(tmp_path, "2025-06-01", base_files())
    write_transfer(tmp_path, "20250230T020000Z", base_files())  # 30 February is no UTC time
    refs = discover(tmp_path)
    assert [(r.transfer_id, r.status) for r in refs] == [
        ("2025-06-01", "rejected"),
        ("20250230T020000Z", "rejected"),
        (TID, None),
        ("20250401T020000Z", None),
        ("20250501T020000Z", "incomplete"),
    ]
    bad = check_transfer(refs[0], study_config(), contracts)
    assert bad.status == "rejected"
    assert bad.findings[0]["RULE"] == "folder_name"
    assert bad.findings[0]["SOURCE_LINE"] is None
    assert bad.reason == "folder name '2025-06-01' is not a TRANSFER_ID (YYYYMMDDTHHMMSSZ)"
    incomplete = check_transfer(refs[-1], study_config(), contracts)
    assert (incomplete.status, incomplete.findings) == ("incomplete", ())


def test_discover_passes_over_hidden_names_at_every_level(tmp_path, contracts):
    """Work in progress of a pull (``.<TRANSFER_ID>.partial-<pid>``), its kept-aside
    copies (``.refused/``) and an uploader's temporary folders are never transfers."""
    write_transfer(tmp_path, TID, base_files())
    write_transfer(tmp_path, f".{TID}.partial-123", base_files())
    write_transfer(tmp_path, TID, base_files(), site=".hidden-site")
    write_transfer(tmp_path, TID, base_files(), study=".refused")
    write_transfer(tmp_path / ".refused", f"{TID}-20250302T000000Z", base_files())
    assert [(r.relpath, r.status) for r in discover(tmp_path)] == [(f"{STUDY}/{SITE}/{TID}", None)]


def test_study_not_configured(tmp_path, contracts):
    write_transfer(tmp_path, TID, base_files())
    (ref,) = discover(tmp_path)
    result = check_transfer(ref, None, contracts)
    assert rejected_rules(result) == {
        "study_not_configured": "study HCC-TEST is not configured (no studies/*.yml names it)"
    }


def test_manifest_invalid_json(tmp_path, contracts):
    folder = write_transfer(tmp_path, TID, base_files())
    (folder / "manifest.json").write_text('{"study": "HCC-TEST",', encoding="utf-8")
    assert list(rejected_rules(check(tmp_path, contracts))) == ["manifest_json"]


def test_manifest_missing_fields(tmp_path, contracts):
    write_transfer(
        tmp_path, TID, base_files(), manifest_edit=lambda m: {k: v for k, v in m.items() if k != "exported_at"}
    )
    assert rejected_rules(check(tmp_path, contracts)) == {
        "manifest_fields": "manifest.json lacks the field(s) exported_at"
    }


def test_manifest_disagreeing_with_folder(tmp_path, contracts):
    write_transfer(
        tmp_path, TID, base_files(), manifest_edit=lambda m: {**m, "site": "102", "transfer_id": "20250302T020000Z"}
    )
    result = check(tmp_path, contracts)
    messages = [f["MESSAGE"] for f in result.findings if f["RULE"] == "manifest_mismatch"]
    assert messages == [
        "manifest.json says site '102' but the folder is '101'",
        "manifest.json says transfer_id '20250302T020000Z' but the folder is '20250301T020000Z'",
    ]
    assert result.reason == messages[0] + " (and 1 more problem)"


def test_checksum_mismatch(tmp_path, contracts):
    folder = write_transfer(tmp_path, TID, base_files())
    # Same record count, different bytes: only the checksum can notice.
    (folder / "DM.csv").write_text(csv_text([dm_row("001"), dm_row("002", AGE="65")]), encoding="utf-8")
    rules = rejected_rules(check(tmp_path, contracts))
    assert list(rules) == ["checksum"]
    assert rules["checksum"].startswith("DM.csv sha256 is ")


def test_row_count_counts_records_not_lines(tmp_path, contracts):
    files = base_files()
    # A quoted line break: 3 physical data lines, 2 records. The manifest says 2: accepted.
    files["AE.csv"] = files["AE.csv"].replace("Nausea,Nausea", '"Nausea\nsevere",Nausea', 1)
    write_transfer(tmp_path, TID, files)
    assert check(tmp_path, contracts).status == "accepted"


def test_row_count_mismatch(tmp_path, contracts):
    write_transfer(tmp_path, TID, base_files(), manifest_edit=lambda m: m["files"]["AE.csv"].update(rows=3))
    assert rejected_rules(check(tmp_path, contracts)) == {"row_count": "AE.csv has 2 records, manifest.json says 3"}


def test_listed_file_missing_and_unlisted_file_present(tmp_path, contracts):
    folder = write_transfer(tmp_path, TID, base_files())
    (folder / "LB.csv").unlink()
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    rules = rejected_rules(check(tmp_path, contracts))
    assert rules == {
        "file_missing": "LB.csv is listed in manifest.json but missing",
        "file_unlisted": "file notes.txt is in the transfer folder but not in manifest.json",
    }


def test_manifest_entry_outside_folder_is_never_opened(tmp_path, contracts):
    secret = tmp_path / "HCC-TEST" / "DM.csv"

    def edit(m):
        m["files"]["../DM.csv"] = m["files"]["DM.csv"]
        m["files"]["sub/AE.csv"] = m["files"]["AE.csv"]

    write_transfer(tmp_path / "landing", TID, base_files(), manifest_edit=edit)
    secret.parent.mkdir(parents=True, exist_ok=True)
    result = check(tmp_path / "landing", contracts)
    unsafe = sorted(f["VALUE"] for f in result.findings if f["RULE"] == "unsafe_path")
    assert unsafe == ["../DM.csv", "sub/AE.csv"]
    assert {f["SOURCE_LINE"] for f in result.findings} == {None}


def test_symlinked_file_is_rejected_not_followed(tmp_path, contracts):
    outside = tmp_path / "outside.csv"
    files = base_files()
    outside.write_text(files["LB.csv"], encoding="utf-8")
    folder = write_transfer(tmp_path / "landing", TID, files)
    (folder / "LB.csv").unlink()
    os.symlink(outside, folder / "LB.csv")
    rules = rejected_rules(check(tmp_path / "landing", contracts))
    assert rules == {"symlink": "LB.csv is a symbolic link; it is not followed"}


def test_not_utf8(tmp_path, contracts):
    files = base_files()
    files["AE.csv"] = files["AE.csv"].replace("Nausea,Nausea", "Naus\u00e9e,Nausea", 1).encode("cp1252")
    write_transfer(tmp_path, TID, files)
    assert rejected_rules(check(tmp_path, contracts)) == {
        "encoding": "AE.csv is not UTF-8: byte 0xE9 on line 2 cannot be decoded (Windows-1252/Latin-1?); "
        "the site must export UTF-8"
    }


def test_utf8_bom_is_allowed(tmp_path, contracts):
    files = base_files()
    files["DM.csv"] = b"\xef\xbb\xbf" + files["DM.csv"].encode("utf-8")
    write_transfer(tmp_path, TID, files)
    assert check(tmp_path, contracts).status == "accepted"


def test_empty_file(tmp_path, contracts):
    files = base_files()
    files["LB.csv"] = ""
    write_transfer(tmp_path, TID, files)
    assert rejected_rules(check(tmp_path, contracts)) == {"empty_file": "LB.csv is empty (no header row)"}


def test_truncated_unterminated_quote(tmp_path, contracts):
    files = base_files()
    files["AE.csv"] += 'HCC-TEST-101-001,2,"Vomiting\n'
    write_transfer(tmp_path, TID, files, manifest_edit=lambda m: m["files"]["AE.csv"].update(rows=3))
    assert rejected_rules(check(tmp_path, contracts)) == {
        "truncated": "AE.csv is truncated: the quoted field opened on line 4 is never closed"
    }


def test_truncated_short_last_record(tmp_path, contracts):
    files = base_files()
    files["AE.csv"] += "HCC-TEST-101-001,2,Vomiting"
    write_transfer(tmp_path, TID, files)
    assert rejected_rules(check(tmp_path, contracts)) == {
        "truncated": "AE.csv is truncated: the last record (line 4) has 3 fields, the header has 12"
    }


def test_other_separator(tmp_path, contracts):
    files = base_files()
    files["LB.csv"] = files["LB.csv"].replace(",", ";")
    write_transfer(tmp_path, TID, files)
    rules = rejected_rules(check(tmp_path, contracts))
    assert rules["separator"] == "LB.csv uses semicolon as separator; the format is comma-separated"
    assert "missing_column" not in rules  # one clear reason, not one per column


def test_missing_required_column_is_case_sensitive(tmp_path, contracts):
    files = base_files()
    files["EX.csv"] = files["EX.csv"].replace("EXDOSE", "exdose", 1)
    write_transfer(tmp_path, TID, files)
    result = check(tmp_path, contracts)
    assert rejected_rules(result) == {
        "missing_column": "EX.csv lacks required column EXDOSE (header has 'exdose'; names are case-sensitive)"
    }


def test_absent_optional_column_and_absent_domain_are_warnings(tmp_path, contracts):
    files = base_files()
    no_end = {k: v for k, v in ae_row(f"{STUDY}-{SITE}-001", 1).items() if k != "AEENDTC"}
    files["AE.csv"] = csv_text([no_end])
    del files["LB.csv"]
    write_transfer(tmp_path, TID, files)
    result = check(tmp_path, contracts)
    assert result.status == "accepted"
    warnings = {f["RULE"]: (f["SEVERITY"], f["COLUMN_NAME"]) for f in result.findings}
    assert warnings == {"column_absent": ("warning", "AEENDTC"), "domain_absent": ("warning", None)}


def test_unknown_domain_file_for_the_study(tmp_path, contracts):
    files = base_files()
    files["CP.csv"] = "USUBJID\n"
    write_transfer(tmp_path, TID, files)
    rules = rejected_rules(check(tmp_path, contracts))
    assert list(rules) == ["unknown_file"]


def test_every_problem_is_reported_at_once(tmp_path, contracts):
    files = base_files()
    files["LB.csv"] = ""
    folder = write_transfer(tmp_path, TID, files)
    (folder / "extra.csv").write_text("x\n", encoding="utf-8")
    result = check(tmp_path, contracts)
    assert sorted(rejected_rules(result)) == ["empty_file", "file_unlisted"]
    assert result.reason.endswith("(and 1 more problem)")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["LB.csv"]["rows"] == 0


def test_files_are_read_two_at_a_time_and_a_check_that_stops_leaves_none_reading(tmp_path, contracts, monkeypatch):
    """The check reads a transfer's files READ_AHEAD_FILES at a time. When it stops
    on an unexpected error, the reads not started are dropped and the running
    ones are waited for: nothing writes into its folder after it returns."""
    import threading
    import time

    from trialdw.ingest import transfers

    reads: dict[str, list[float]] = {}
    lock = threading.Lock()
    real_scan = transfers.scan_file

    def slow_scan(path, out, skip_parse=None):
        with lock:
            reads[path.name] = [time.monotonic()]
        time.sleep(0.2)
        with lock:
            reads[path.name].append(time.monotonic())
        return real_scan(path, out, skip_parse)

    monkeypatch.setattr(transfers, "scan_file", slow_scan)
    write_transfer(tmp_path / "landing", TID, base_files())
    (ref,) = discover(tmp_path / "landing")
    accepted = check_transfer(ref, study_config(), contracts, parse_dir=tmp_path / "work")
    assert accepted.status == "accepted" and len(reads) == 5
    (first, second) = sorted(reads.values())[:2]
    assert second[0] < first[1]  # the second file was read while the first was

    reads.clear()

    def failing(*args):
        deadline = time.monotonic() + 5
        while not reads and time.monotonic() < deadline:  # the first reads are under way
            time.sleep(0.01)
        raise RuntimeError("a bug in the check")

    monkeypatch.setattr(transfers, "_check_file", failing)
    with pytest.raises(RuntimeError, match="a bug in the check"):
        check_transfer(ref, study_config(), contracts, parse_dir=tmp_path / "work")
    assert 0 < len(reads) < 5  # the queued reads never started
    assert all(len(times) == 2 for times in reads.values())  # the started ones had finished
