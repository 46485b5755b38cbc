"""Row validation on real CSV files: each row rule gives the exact finding (line,
column, value, rule, message); valid and quarantined rows add up to what was sent."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.helpers.transfers import (
    SITE,
    STUDY,
    ae_row,
    csv_text,
    dm_row,
    ex_row,
    lb_row,
    study_config,
    tr_row,
    validate_base_transfer,
)
from trialdw.ingest.contracts import load_contracts
from trialdw.ingest.findings import row_finding_id
from trialdw.ingest.types import ReconciliationError

TID = "20250301T020000Z"
S1 = f"{STUDY}-{SITE}-001"
S2 = f"{STUDY}-{SITE}-002"


@pytest.fixture(scope="module")
def contracts():
    return load_contracts()


def validate(tmp_path, contracts, **replace):
    """Write the base transfer with some files replaced, check and validate it."""
    return validate_base_transfer(tmp_path, TID, study_config(), contracts, **replace)


def findings(validated, domain=None, orphans=False) -> list[tuple]:
    """Row findings, without the orphan root causes (DOMAIN DM) unless ``orphans``."""
    frame = pl.read_parquet(validated.findings_path)
    if not orphans:
        frame = frame.filter(pl.col("RULE") != "orphan_subject")
    if domain:
        frame = frame.filter(pl.col("DOMAIN") == domain)
    return sorted(
        frame.select("SOURCE_LINE", "COLUMN_NAME", "VALUE", "RULE", "SEVERITY", "MESSAGE").iter_rows(),
        key=lambda r: (r[0] or 0, r[1] or "", r[3]),
    )


def counts(validated, domain):
    out = validated.domain(domain)
    return out.rows_sent, out.rows_loaded, out.rows_quarantined


def test_clean_transfer_loads_everything_without_findings(tmp_path, contracts):
    v = validate(tmp_path, contracts)
    assert findings(v) == []
    assert {d.domain: (d.rows_sent, d.rows_loaded, d.rows_quarantined) for d in v.domains} == {
        "DM": (2, 2, 0),
        "AE": (2, 2, 0),
        "EX": (2, 2, 0),
        "TR": (4, 4, 0),
        "LB": (2, 2, 0),
    }


def test_required_type_codelist_range_pattern_in_dm(tmp_path, contracts):
    dm = csv_text(
        [
            dm_row("001", AGE="sixty", SEX="X"),
            dm_row("002", AGE="130", COUNTRY="China", RFICDTC="2025-02-30"),
            dm_row("003", ENRLDTC="", ARMCD="PLACEBO"),
        ]
    )
    v = validate(tmp_path, contracts, **{"DM.csv": dm})
    assert findings(v, "DM") == [
        (2, "AGE", "sixty", "type", "reject", "AGE 'sixty' is not an integer"),
        (2, "SEX", "X", "codelist", "reject", "SEX 'X' is not one of: M, F, U"),
        (3, "AGE", "130", "range", "reject", "AGE '130' is outside the allowed range ≥ 18 and ≤ 120"),
        (
            3,
            "COUNTRY",
            "China",
            "pattern",
            "reject",
            "COUNTRY 'China' does not match an ISO 3166 alpha-3 code (e.g. CHN)",
        ),
        (3, "RFICDTC", "2025-02-30", "type", "reject", "RFICDTC '2025-02-30' is not a date YYYY-MM-DD"),
        (
            4,
            "ARMCD",
            "PLACEBO",
            "study_arm",
            "reject",
            "ARMCD 'PLACEBO' is not an arm of study HCC-TEST (DRUGX = DRUG X)",
        ),
        (4, "ENRLDTC", None, "required", "reject", "ENRLDTC is empty; a value is required"),
    ]
    assert counts(v, "DM") == (3, 0, 3)
    # Every subject's DM row is quarantined, so all their other rows are orphans: held
    # back (quarantined with rule orphan), with one root-cause finding per subject.
    assert counts(v, "AE") == (2, 0, 2)
    assert findings(v, "AE") == []
    assert pl.read_parquet(v.domain("AE").quarantine_path).get_column("RULES").to_list() == ["orphan", "orphan"]
    assert [r for r in findings(v, orphans=True) if r[3] == "orphan_subject"] == [
        (
            2,
            "USUBJID",
            S1,
            "orphan_subject",
            "reject",
            f"subject {S1} has no accepted DM row (DM line 2 was quarantined: AGE 'sixty' is not an integer; "
            "SEX 'X' is not one of: M, F, U); 5 rows held back: EX 1, AE 1, TR 2, LB 1",
        ),
        (
            3,
            "USUBJID",
            S2,
            "orphan_subject",
            "reject",
            f"subject {S2} has no accepted DM row (DM line 3 was quarantined: AGE '130' is outside the allowed "
            "range ≥ 18 and ≤ 120; COUNTRY 'China' does not match an ISO 3166 alpha-3 code (e.g. CHN); "
            "RFICDTC '2025-02-30' is not a date YYYY-MM-DD); 5 rows held back: EX 1, AE 1, TR 2, LB 1",
        ),
    ]


def test_dates_partial_only_in_partial_columns(tmp_path, contracts):
    ae = csv_text(
        [
            ae_row(S1, 1, AESTDTC="2025-02", AEENDTC="2025-01-15"),  # partial start: no order check
            ae_row(S1, 2, AESTDTC="2025-13"),
        ]
    )
    ex = csv_text([ex_row(S1, 1, EXSTDTC="2025-01"), ex_row(S2, 1, EXDOSE="0", EXTRT="ASPIRIN")])
    v = validate(tmp_path, contracts, **{"AE.csv": ae, "EX.csv": ex})
    assert findings(v, "AE") == [
        (3, "AESTDTC", "2025-13", "type", "reject", "AESTDTC '2025-13' is not a date YYYY-MM-DD, YYYY-MM or YYYY")
    ]
    assert findings(v, "EX") == [
        (
            2,
            "EXSTDTC",
            "2025-01",
            "type",
            "reject",
            "EXSTDTC '2025-01' is a partial date; a complete date YYYY-MM-DD is required",
        ),
        (
            3,
            "EXDOSE",
            "0",
            "positive_unless_placebo",
            "reject",
            "EXDOSE '0' is not > 0 for EXTRT ASPIRIN (only a placebo may have dose 0)",
        ),
        (
            3,
            "EXTRT",
            "ASPIRIN",
            "in_study_treatments",
            "reject",
            "EXTRT 'ASPIRIN' is not a treatment of study HCC-TEST (DRUG X)",
        ),
    ]


def test_cross_field_rules_name_the_dependent_column(tmp_path, contracts):
    dm = csv_text([dm_row("001", DTHFL="Y"), dm_row("002", DTHDTC="2025-06-01")])
    ae = csv_text(
        [ae_row(S1, 1, AEENDTC="2025-01-20"), ae_row(S1, 2, AETOXGR="5"), ae_row(S1, 3, AEOUT="FATAL", AETOXGR="3")]
    )
    v = validate(tmp_path, contracts, **{"DM.csv": dm, "AE.csv": ae})
    assert findings(v, "DM") == [
        (2, "DTHDTC", None, "iff", "reject", "DTHFL is Y but DTHDTC is empty"),
        (
            3,
            "DTHFL",
            None,
            "iff",
            "reject",
            "DTHDTC is 2025-06-01 but DTHFL is (empty) (must be Y when DTHDTC is present)",
        ),
    ]
    assert findings(v, "AE") == [
        (2, "AEENDTC", "2025-01-20", "not_before", "reject", "AEENDTC 2025-01-20 is before AESTDTC 2025-02-01"),
        (
            3,
            "AEOUT",
            "RECOVERED/RESOLVED",
            "equivalent",
            "reject",
            "AETOXGR is 5 but AEOUT is 'RECOVERED/RESOLVED' (must be FATAL)",
        ),
        (4, "AETOXGR", "3", "equivalent", "reject", "AEOUT is FATAL but AETOXGR is '3' (must be 5)"),
    ]


def test_usubjid_parts_and_transfer_folder(tmp_path, contracts):
    dm = csv_text(
        [dm_row("001", USUBJID=f"{STUDY}-{SITE}-999"), dm_row("002", SITEID="102", USUBJID=f"{STUDY}-102-002")]
    )
    v = validate(tmp_path, contracts, **{"DM.csv": dm})
    assert findings(v, "DM") == [
        (
            2,
            "USUBJID",
            "HCC-TEST-101-999",
            "usubjid_parts",
            "reject",
            "USUBJID HCC-TEST-101-999 does not equal STUDYID-SITEID-SUBJID (HCC-TEST-101-001)",
        ),
        (3, "SITEID", "102", "matches_transfer", "reject", "SITEID 102 does not match the transfer folder's site 101"),
    ]


def test_duplicate_key_flags_every_row_sharing_it(tmp_path, contracts):
    ae = csv_text([ae_row(S1, 1), ae_row(S2, 1), ae_row(S1, 1, AETERM="Headache")])
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    rows = findings(v, "AE")
    message = "record key USUBJID, AESEQ = HCC-TEST-101-001|1 appears on lines 2 and 4"
    assert rows == [
        (2, "USUBJID,AESEQ", "HCC-TEST-101-001|1", "duplicate_key", "reject", message),
        (4, "USUBJID,AESEQ", "HCC-TEST-101-001|1", "duplicate_key", "reject", message),
    ]
    ids = pl.read_parquet(v.findings_path).get_column("FINDING_ID").unique()
    assert ids.len() == 1  # one finding, two occurrences
    assert counts(v, "AE") == (3, 1, 2)


def test_orphan_rows(tmp_path, contracts):
    lb = csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(f"{STUDY}-{SITE}-777", "AFP", "2025-01-05")])
    v = validate(tmp_path, contracts, **{"LB.csv": lb})
    assert findings(v, "LB") == []
    assert findings(v, orphans=True) == [
        (
            3,
            "USUBJID",
            "HCC-TEST-101-777",
            "orphan_subject",
            "reject",
            "subject HCC-TEST-101-777 has no DM row in this transfer; 1 row held back: LB 1",
        )
    ]
    found = pl.read_parquet(v.findings_path).row(0, named=True)
    assert (found["DOMAIN"], found["SOURCE_FILE"], found["RECORD_KEY"]) == (
        "DM",
        f"{STUDY}/{SITE}/{TID}/LB.csv",  # no DM row to point at: the subject's first row
        "HCC-TEST-101-777",
    )
    quarantine = pl.read_parquet(v.domain("LB").quarantine_path)
    assert quarantine.select("SOURCE_LINE", "USUBJID", "RULES").rows() == [(3, "HCC-TEST-101-777", "orphan")]


def test_orphans_collapse_into_one_root_cause_per_subject(tmp_path, contracts):
    """A quarantined DM row: one finding naming the DM line, why, and the rows held back
    per domain; every child row is still quarantined (RULES orphan); a child row with
    another problem keeps that finding too; the identity does not depend on lines."""
    s9 = f"{STUDY}-{SITE}-009"
    dm = csv_text([dm_row("001"), dm_row("002", SEX="Q")])
    ae = csv_text([ae_row(S1, 1), ae_row(S2, 1), ae_row(S2, 2, AESER="X"), ae_row(s9, 1), ae_row(s9, 2)])
    lb = csv_text(
        [lb_row(S2, "AFP", d) for d in ("2025-01-05", "2025-02-05", "2025-03-05")] + [lb_row(s9, "ALT", "2025-01-05")]
    )
    v = validate(tmp_path, contracts, **{"DM.csv": dm, "AE.csv": ae, "LB.csv": lb})
    assert findings(v, orphans=True) == [
        (3, "SEX", "Q", "codelist", "reject", "SEX 'Q' is not one of: M, F, U"),
        (
            3,
            "USUBJID",
            S2,
            "orphan_subject",
            "reject",
            f"subject {S2} has no accepted DM row (DM line 3 was quarantined: SEX 'Q' is not one of: M, F, U); "
            "8 rows held back: EX 1, AE 2, TR 2, LB 3",
        ),
        (4, "AESER", "X", "codelist", "reject", "AESER 'X' is not one of: Y, N"),  # its own finding stays
        (
            5,
            "USUBJID",
            s9,
            "orphan_subject",
            "reject",
            f"subject {s9} has no DM row in this transfer; 3 rows held back: AE 2, LB 1",
        ),
    ]
    assert counts(v, "AE") == (5, 1, 4) and counts(v, "LB") == (4, 0, 4)
    rules = pl.read_parquet(v.domain("AE").quarantine_path).select("SOURCE_LINE", "RULES").rows()
    assert rules == [(3, "orphan"), (4, "codelist,orphan"), (5, "orphan"), (6, "orphan")]
    frame = pl.read_parquet(v.findings_path).filter(pl.col("RULE") == "orphan_subject")
    assert frame.get_column("FINDING_ID").to_list() == [
        row_finding_id(STUDY, SITE, "DM", S2, "USUBJID", "orphan_subject"),
        row_finding_id(STUDY, SITE, "DM", s9, "USUBJID", "orphan_subject"),
    ]
    assert frame.get_column("SOURCE_FILE").to_list() == [f"{STUDY}/{SITE}/{TID}/DM.csv", f"{STUDY}/{SITE}/{TID}/AE.csv"]


def test_a_duplicate_key_message_names_every_line(tmp_path, contracts):
    ae = csv_text([ae_row(S1, 3), ae_row(S2, 1), ae_row(S1, 3, AETERM="Rash"), ae_row(S1, 3, AETERM="Fever")])
    ae = ae.replace("\n" + S2, "\n\n" + S2)  # a blank line: the lines are physical lines
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    message = "record key USUBJID, AESEQ = HCC-TEST-101-001|3 appears on lines 2, 5 and 6"
    assert findings(v, "AE") == [
        (line, "USUBJID,AESEQ", "HCC-TEST-101-001|3", "duplicate_key", "reject", message) for line in (2, 5, 6)
    ]
    ids = pl.read_parquet(v.findings_path).get_column("FINDING_ID").unique()
    assert ids.to_list() == [row_finding_id(STUDY, SITE, "AE", "HCC-TEST-101-001|3", "USUBJID,AESEQ", "duplicate_key")]


def test_a_key_shared_by_very_many_rows_lists_the_first_hundred_lines(tmp_path, contracts):
    ae = csv_text([ae_row(S1, 7, AETERM=f"term {i}") for i in range(150)] + [ae_row(S2, 1)])
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    rows = findings(v, "AE")
    assert [r[0] for r in rows] == list(range(2, 152)) and counts(v, "AE") == (151, 1, 150)
    lines = ", ".join(str(line) for line in range(2, 102))
    assert {r[5] for r in rows} == {f"record key USUBJID, AESEQ = {S1}|7 appears on lines {lines}, … (150 lines)"}


def test_row_findings_carry_visit_and_visitnum(tmp_path, contracts):
    tr = csv_text(
        [
            tr_row(S1, "T01", "0", VISIT="SCREENING"),
            tr_row(S1, "T01", "2", VISIT="WEEK 6", TRSTRESN="-4"),
            tr_row(S2, "T01", "0"),
        ]
    )
    lb = csv_text(
        [lb_row(S1, "AFP", "2025-01-05", VISIT="CYCLE 2 DAY 1", LBSTRESU="mg"), lb_row(S2, "AFP", "2025-01-05")]
    )
    ae = csv_text([ae_row(S1, 1, AESER="X"), ae_row(S2, 1)])
    v = validate(tmp_path, contracts, **{"TR.csv": tr, "LB.csv": lb, "AE.csv": ae})
    frame = pl.read_parquet(v.findings_path)
    assert frame.columns[:11] == [
        "FINDING_ID",
        "STUDYID",
        "SITEID",
        "TRANSFER_ID",
        "DOMAIN",
        "USUBJID",
        "RECORD_KEY",
        "SOURCE_FILE",
        "SOURCE_LINE",
        "VISIT",
        "VISITNUM",
    ]
    visits = frame.select("DOMAIN", "RULE", "VISIT", "VISITNUM").sort("DOMAIN").rows()
    assert visits == [
        ("AE", "codelist", None, None),  # AE has no visit
        ("LB", "codelist_by_value", "CYCLE 2 DAY 1", None),  # LB has VISIT, no VISITNUM
        ("TR", "range", "WEEK 6", "2"),
    ]


def test_tumour_results_and_lab_rules(tmp_path, contracts):
    tr = csv_text(
        [
            tr_row(S1, "T01", "0"),
            tr_row(S1, "NT01", "0", TRSTRESN="3", TRSTRESU="mm"),  # TUMSTATE with a number
            tr_row(S1, "T02", "0", TRSTRESN="", TRSTRESU=""),  # LDIAM without one
            tr_row(S1, "NT02", "0", TRORRES="GONE"),
            tr_row(S1, "T03", "0", TRTESTCD="TUMSTATE", TRORRES="PRESENT", TRSTRESN="", TRSTRESU=""),
        ]
    )
    lb = csv_text([lb_row(S1, "AFP", "2025-01-05", LBSTRESU="U/L", LBSTNRLO="30", LBSTNRHI="20")])
    v = validate(tmp_path, contracts, **{"TR.csv": tr, "LB.csv": lb})
    assert findings(v, "TR") == [
        (3, "TRSTRESN", "3", "empty_when", "reject", "TRSTRESN must be empty when TRTESTCD is TUMSTATE (got '3')"),
        (3, "TRSTRESU", "mm", "empty_when", "reject", "TRSTRESU must be empty when TRTESTCD is TUMSTATE (got 'mm')"),
        (
            4,
            "TRSTRESN",
            None,
            "present_unless",
            "reject",
            "TRSTRESN is empty; it is required unless TRTESTCD is TUMSTATE",
        ),
        (
            4,
            "TRSTRESU",
            None,
            "present_unless",
            "reject",
            "TRSTRESU is empty; it is required unless TRTESTCD is TUMSTATE",
        ),
        (
            5,
            "TRORRES",
            "GONE",
            "codelist_by_value",
            "reject",
            "TRORRES 'GONE' is not allowed for TRTESTCD TUMSTATE (allowed: PRESENT, ABSENT, UNEQUIVOCAL PROGRESSION)",
        ),
        (
            6,
            "TRLNKID",
            "T03",
            "pattern_by_value",
            "reject",
            "TRLNKID 'T03' does not match (NT|NEW)\\d{2,} for TRTESTCD TUMSTATE",
        ),
    ]
    assert findings(v, "LB") == [
        (2, "LBSTNRLO", "30", "not_above", "reject", "LBSTNRLO 30 is above LBSTNRHI 20"),
        (
            2,
            "LBSTRESU",
            "U/L",
            "codelist_by_value",
            "reject",
            "LBSTRESU 'U/L' is not allowed for LBTESTCD AFP (allowed: ng/mL)",
        ),
    ]
    assert counts(v, "LB") == (1, 0, 1)  # two findings, one row


def test_leading_and_trailing_spaces(tmp_path, contracts):
    """One defect, one finding: 'N ' is reported for its spaces, not also as off the codelist."""
    ae = csv_text([ae_row(S1, 1, AETERM=" Nausea"), ae_row(S2, 1, AESER="N ")])
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    assert findings(v, "AE") == [
        (2, "AETERM", " Nausea", "whitespace", "reject", "AETERM ' Nausea' has leading or trailing spaces"),
        (3, "AESER", "N ", "whitespace", "reject", "AESER 'N ' has leading or trailing spaces"),
    ]


def test_source_line_counts_embedded_line_breaks(tmp_path, contracts):
    ae = csv_text(
        [
            ae_row(S1, 1, AETERM="Nausea\nwith\nvomiting"),  # lines 2-4
            ae_row(S2, 1, AESER="MAYBE"),
        ]
    )  # starts on line 5
    ae = ae.replace("\n" + S2, "\n\n" + S2)  # and a blank line: now line 6
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    assert findings(v, "AE") == [(6, "AESER", "MAYBE", "codelist", "reject", "AESER 'MAYBE' is not one of: Y, N")]
    valid = pl.read_parquet(v.domain("AE").valid_path)
    assert valid.select("AETERM", "_source_line").rows() == [("Nausea\nwith\nvomiting", 2)]


def test_extra_columns_and_mojibake_are_warnings_and_rows_load(tmp_path, contracts):
    rows = [ae_row(S1, 1, AETERM="Rash â‰¥ grade 2", SITE_NOTE="checked"), ae_row(S2, 1, SITE_NOTE="")]
    columns = [*list(ae_row(S1, 1)), "SITE_NOTE"]
    v = validate(tmp_path, contracts, **{"AE.csv": csv_text(rows, columns)})
    assert findings(v, "AE") == [
        (
            1,
            "SITE_NOTE",
            None,
            "extra_columns",
            "warning",
            "AE.csv has column(s) not in the contract: SITE_NOTE (kept in _extra, not validated)",
        ),
        (
            2,
            "AETERM",
            "Rash â‰¥ grade 2",
            "mojibake",
            "warning",
            "AETERM 'Rash â‰¥ grade 2' looks like mis-decoded text (mojibake); check the site's export encoding",
        ),
    ]
    assert counts(v, "AE") == (2, 2, 0)
    valid = pl.read_parquet(v.domain("AE").valid_path)
    assert [json.loads(x) if x else None for x in valid.get_column("_extra")] == [
        {"SITE_NOTE": "checked"},
        {"SITE_NOTE": None},
    ]


def test_valid_and_quarantine_files(tmp_path, contracts):
    ae = csv_text([ae_row(S1, 1, AEENDTC=""), ae_row(S2, 1, AETOXGR="9")])
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    valid = pl.read_parquet(v.domain("AE").valid_path)
    assert valid.columns == [
        "USUBJID",
        "AESEQ",
        "AETERM",
        "AEDECOD",
        "AEBODSYS",
        "AESTDTC",
        "AEENDTC",
        "AETOXGR",
        "AESER",
        "AEREL",
        "AEACN",
        "AEOUT",
        "_source_line",
        "_extra",
    ]
    assert valid.row(0, named=True)["AEENDTC"] is None  # empty field → NULL
    # The file holds what the bytes sent determine; where they came from is the output's.
    assert v.domain("AE").source_file == f"{STUDY}/{SITE}/{TID}/AE.csv"
    quarantine = pl.read_parquet(v.domain("AE").quarantine_path)
    row = quarantine.row(0, named=True)
    assert (row["SOURCE_LINE"], row["USUBJID"], row["RULES"]) == (3, S2, "codelist")
    assert json.loads(row["RECORD"])["AETOXGR"] == "9"
    assert json.loads(row["RECORD"])["AEENDTC"] == "2025-02-10"


def test_a_file_the_native_reader_leaves_to_the_exact_one_validates_the_same(tmp_path, contracts):
    """A quote inside an unquoted field (DuckDB and Python's csv could disagree on it)
    and a CRLF blank line in an LF file (DuckDB refuses it): read exactly, lines right."""
    ae = csv_text([ae_row(S1, 1, AETERM="PLACEHOLDER"), ae_row(S2, 1, AESER="X")])
    ae = ae.replace("PLACEHOLDER", 'Pain "severe"').replace("\n" + S2, "\n\r\n" + S2)
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    assert v.check.files[0].parsed.parser == "python"  # AE.csv, sorted first
    assert findings(v, "AE") == [(4, "AESER", "X", "codelist", "reject", "AESER 'X' is not one of: Y, N")]
    valid = pl.read_parquet(v.domain("AE").valid_path)
    assert valid.select("AETERM", "_source_line").rows() == [('Pain "severe"', 2)]


def test_a_check_without_parsed_files_is_read_again(tmp_path, contracts):
    """validate_transfer does not depend on the check's temporary files: without them
    the files are read again (and must still be what the check saw)."""
    import dataclasses

    from trialdw.ingest.rows import validate_transfer

    ae = csv_text([ae_row(S1, 1), ae_row(S2, 1, AESER="X")])
    v = validate(tmp_path, contracts, **{"AE.csv": ae})
    bare = dataclasses.replace(v.check, files=tuple(dataclasses.replace(f, parsed=None) for f in v.check.files))
    again = validate_transfer(v.ref, bare, study_config(), contracts, tmp_path / "again")
    assert findings(again) == findings(v)
    assert [counts(again, d.domain) for d in again.domains] == [counts(v, d.domain) for d in v.domains]
    (v.ref.path / "AE.csv").write_text(ae.replace("AESER", "AESER ", 1))  # changed since the check
    with pytest.raises(ReconciliationError, match="changed since its transfer check"):
        validate_transfer(v.ref, bare, study_config(), contracts, tmp_path / "changed")
