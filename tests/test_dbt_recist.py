"""OVRRECIS (RECIST 1.1 from TU/TR) and data_review.findings, built for real.

Same harness as test_dbt_adam.py (a real DuckDB warehouse in tmp_path with
raw.*, audit.transfers and config.*, then the whole dbt build), with its own
hand-written subjects whose tumour measurements sit on the RECIST boundaries.
Every expected value below was worked out by hand from the rows written here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.helpers.dbt_warehouse import RawRows, create_warehouse, one, query
from trialdw.dbt_runner import dbt_build

pytestmark = pytest.mark.slow

REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
TRANSFER = "20260701T020000Z"
D = dt.date.fromisoformat

# SURU: no CR marker rule, so OVRRECIS = the RECIST response itself.
R1, R2, R3, R4 = (f"{SURU}-201-{n}" for n in ("101", "102", "103", "104"))
# REGO: AFP marker rule; R6/R7 carry the death-related review findings.
R5, R6, R7 = (f"{REGO}-101-{n}" for n in ("105", "106", "107"))


class SubjectRows(RawRows):
    """The shared raw-row builder, plus this module's dosed-subject step."""

    def __init__(self):
        super().__init__(TRANSFER)

    def dosed_subject(self, usubjid: str, trtsdt: str, dthdtc: str | None = None) -> None:
        """Enrolled 2026-01-05, dosed from ``trtsdt`` with the study's treatment, ongoing."""
        self.dm(usubjid, "2026-01-02", "2026-01-05", sex="F", dthdtc=dthdtc)
        self.ex(usubjid, 1, trtsdt, None)


def _subject_rows() -> dict[str, list[dict]]:
    s = SubjectRows()

    # R1: baseline SOD 50 + 20 = 70. Exactly -30 % (49) is PR; a missing lesion is NE and
    # sets no nadir; 58.8 is exactly +20 % (and +9.8 mm) above the nadir 49: PD, where
    # the investigator wrote SD.
    s.dosed_subject(R1, "2026-03-02")
    s.lesion(R1, "T01", "TARGET", "LIVER", "2026-02-28")
    s.lesion(R1, "T02", "TARGET", "LYMPH NODE", "2026-02-28")
    s.lesion(R1, "NT01", "NON-TARGET", "BONE", "2026-02-28")
    for lnkid, mm in (("T01", "50"), ("T02", "20")):
        s.diameter(R1, lnkid, mm, "0", "2026-02-28")
    s.state(R1, "NT01", "PRESENT", "0", "2026-02-28")
    for visitnum, date, sizes, response in (
        ("1", "2026-04-13", {"T01": "30", "T02": "19"}, "PR"),
        ("2", "2026-05-25", {"T02": "15"}, "NE"),
        ("3", "2026-07-06", {"T01": "40", "T02": "18.8"}, "SD"),
    ):
        for lnkid, mm in sizes.items():
            s.diameter(R1, lnkid, mm, visitnum, date)
        s.state(R1, "NT01", "PRESENT", visitnum, date)
        s.ovr(R1, visitnum, date, response)

    # R2: baseline scanned on TRTSDT itself (still baseline): 30 + 15 = 45. Nodal 9 mm
    # with the liver lesion gone is CR; nodal 10 mm is not (PR: -77.8 %, +11 % over nadir 9).
    s.dosed_subject(R2, "2026-03-02")
    s.lesion(R2, "T01", "TARGET", "LIVER", "2026-03-02")
    s.lesion(R2, "T02", "TARGET", "LYMPH NODE", "2026-03-02")
    s.diameter(R2, "T01", "30", "0", "2026-03-02")
    s.diameter(R2, "T02", "15", "0", "2026-03-02")
    for visitnum, date, node in (("1", "2026-04-13", "9"), ("2", "2026-05-25", "10")):
        s.diameter(R2, "T01", "0", visitnum, date)
        s.diameter(R2, "T02", node, visitnum, date)
        s.ovr(R2, visitnum, date, "CR")

    # R3: a target lesion missing and a new lesion on the same day: PD (not NE). The
    # later scan is after the first PD: outside ANL01FL.
    s.dosed_subject(R3, "2026-03-02")
    s.lesion(R3, "T01", "TARGET", "LIVER", "2026-02-27")
    s.lesion(R3, "T02", "TARGET", "LUNG", "2026-02-27")
    s.diameter(R3, "T01", "40", "0", "2026-02-27")
    s.diameter(R3, "T02", "30", "0", "2026-02-27")
    s.diameter(R3, "T01", "35", "1", "2026-04-13")
    s.lesion(R3, "NEW01", "NEW", "PERITONEUM", "2026-04-13", visit="VISIT 1")
    s.state(R3, "NEW01", "PRESENT", "1", "2026-04-13")
    s.ovr(R3, "1", "2026-04-13", "PD")
    s.diameter(R3, "T01", "36", "2", "2026-05-25")
    s.diameter(R3, "T02", "28", "2", "2026-05-25")
    s.ovr(R3, "2", "2026-05-25", "SD")

    # R4: non-target disease only: NON-CR/NON-PD, then unequivocal progression of NT02.
    s.dosed_subject(R4, "2026-03-02")
    s.lesion(R4, "NT01", "NON-TARGET", "LIVER", "2026-02-27")
    s.lesion(R4, "NT02", "NON-TARGET", "PERITONEUM", "2026-02-27")
    for lnkid in ("NT01", "NT02"):
        s.state(R4, lnkid, "PRESENT", "0", "2026-02-27")
        s.state(R4, lnkid, "PRESENT", "1", "2026-04-13")
    s.ovr(R4, "1", "2026-04-13", "NON-CR/NON-PD")
    s.state(R4, "NT01", "PRESENT", "2", "2026-05-25")
    s.state(R4, "NT02", "UNEQUIVOCAL PROGRESSION", "2", "2026-05-25")
    s.ovr(R4, "2", "2026-05-25", "PD")

    # R5 (AFP marker rule): RECIST CR with AFP 30 > ULN 10 five days before: counted as PR,
    # like the investigator's CR. The next OVR (SD) has no scan at all: RECIST NE.
    s.dosed_subject(R5, "2026-01-15")
    s.lesion(R5, "T01", "TARGET", "LIVER", "2026-01-13")
    s.diameter(R5, "T01", "40", "0", "2026-01-13")
    s.diameter(R5, "T01", "0", "1", "2026-02-26")
    s.ovr(R5, "1", "2026-02-26", "CR")
    s.add(
        "lb",
        R5,
        LBTESTCD="AFP",
        LBSTRESN="30",
        LBSTRESU="ng/mL",
        LBSTNRLO="0",
        LBSTNRHI="10",
        VISIT=None,
        LBDTC="2026-02-21",
    )
    s.ovr(R5, "2", "2026-04-09", "SD")

    # R6: DM says death on 10 Apr, DS END OF STUDY says 12 Apr; an AFP on 15 Apr is after death.
    s.dosed_subject(R6, "2026-01-15", dthdtc="2026-04-10")
    s.add("ds", R6, DSCAT="DISPOSITION EVENT", DSSCAT="END OF STUDY", DSDECOD="DEATH", DSSTDTC="2026-04-12")
    s.add(
        "lb",
        R6,
        LBTESTCD="AFP",
        LBSTRESN="50",
        LBSTRESU="ng/mL",
        LBSTNRLO="0",
        LBSTNRHI="10",
        VISIT=None,
        LBDTC="2026-04-15",
    )

    # R7: SS DEAD with no death date anywhere; an AE ending "2026-02" (at the latest
    # 28 Feb) before it started on 15 Mar, which the row rule (complete dates) cannot see.
    s.dosed_subject(R7, "2026-01-15")
    s.add("ss", R7, SSTESTCD="SURVSTAT", SSSTRESC="ALIVE", SSDTC="2026-03-01")
    s.add("ss", R7, SSTESTCD="SURVSTAT", SSSTRESC="DEAD", SSDTC="2026-05-01")
    s.add(
        "ae",
        R7,
        AESEQ="1",
        AETERM="FEVER",
        AEDECOD="Pyrexia",
        AEBODSYS="SOC",
        AESTDTC="2026-03-15",
        AEENDTC="2026-02",
        AETOXGR="1",
        AESER="N",
        AEREL="NOT RELATED",
        AEACN="DOSE NOT CHANGED",
        AEOUT="RECOVERED/RESOLVED",
    )
    return s.rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    db_path = tmp_path_factory.mktemp("dbt_recist") / "warehouse.duckdb"
    create_warehouse(db_path, _subject_rows(), transfers=[(REGO, "101", TRANSFER, True), (SURU, "201", TRANSFER, True)])
    result = dbt_build(db_path)
    assert result.success, "\n".join(result.failures)
    assert result.unit_tests_failed == 0 and result.tests_failed == 0
    return db_path


def _ovrrecis(db, usubjid):
    return query(
        db,
        f"select ADT, AVALC, ORRESP, ANL01FL from adam.adrs "
        f"where USUBJID = '{usubjid}' and PARAMCD = 'OVRRECIS' order by ADT",
    )


def test_exactly_30_percent_is_pr_missing_lesion_ne_and_20_percent_over_nadir_pd(warehouse):
    assert _ovrrecis(warehouse, R1) == [
        (D("2026-04-13"), "PR", "PR", "Y"),
        (D("2026-05-25"), "NE", "NE", "Y"),
        (D("2026-07-06"), "PD", "PD", "Y"),
    ]


def test_nodal_9_mm_is_cr_and_10_mm_is_not(warehouse):
    assert _ovrrecis(warehouse, R2) == [(D("2026-04-13"), "CR", "CR", "Y"), (D("2026-05-25"), "PR", "PR", "Y")]


def test_missing_lesion_with_a_new_lesion_is_pd_and_ends_the_window(warehouse):
    assert _ovrrecis(warehouse, R3) == [(D("2026-04-13"), "PD", "PD", "Y"), (D("2026-05-25"), "SD", "SD", None)]


def test_non_target_only_disease(warehouse):
    assert _ovrrecis(warehouse, R4) == [
        (D("2026-04-13"), "NON-CR/NON-PD", "NON-CR/NON-PD", "Y"),
        (D("2026-05-25"), "PD", "PD", "Y"),
    ]


def test_recist_cr_goes_through_the_afp_marker_rule(warehouse):
    assert one(
        warehouse,
        f"select AVALC, ORRESP, MRKREAS, ADY, VISITNUM, PARAM from adam.adrs "
        f"where USUBJID = '{R5}' and PARAMCD = 'OVRRECIS' and ADT = '2026-02-26'",
    ) == (
        "PR",
        "CR",
        "CR counted as PR: AFP 30.0 on 2026-02-21 above upper limit 10.0",
        43,
        1.0,
        "Overall Response by RECIST 1.1 (derived from TU/TR)",
    )
    # the investigator's OVR next to it is unchanged by OVRRECIS
    assert query(
        warehouse, f"select ADT, AVALC, ORRESP from adam.adrs where USUBJID = '{R5}' and PARAMCD = 'OVR' order by ADT"
    ) == [(D("2026-02-26"), "PR", "CR"), (D("2026-04-09"), "SD", "SD")]


def test_subjects_without_tumour_data_get_no_recist_rows(warehouse):
    assert query(warehouse, f"select * from adam.adrs where PARAMCD = 'OVRRECIS' and USUBJID in ('{R6}', '{R7}')") == []


def test_review_findings_are_exactly_the_planted_problems(warehouse):
    rows = query(
        warehouse,
        "select STUDYID, SITEID, DOMAIN, USUBJID, RECORD_KEY, COLUMN_NAME, VALUE, RULE, SEVERITY "
        "from data_review.findings order by RULE, RECORD_KEY",
    )
    assert rows == [
        (REGO, "101", "LB", R6, f"{R6}|AFP|2026-04-15", "LBDTC", "2026-04-15", "date_after_death", "warning"),
        (REGO, "101", "SS", R7, f"{R7}|2026-05-01", "SSSTRESC", "DEAD", "dead_without_death_date", "warning"),
        (
            REGO,
            "101",
            "DS",
            R6,
            f"{R6}|END OF STUDY",
            "DSSTDTC",
            "DS=2026-04-12 DTHDT=2026-04-10",
            "death_date_disagreement",
            "warning",
        ),
        (REGO, "101", "AE", R7, f"{R7}|1", "AEENDTC", "2026-02", "end_before_start_partial", "warning"),
        (
            REGO,
            "101",
            "RS",
            R5,
            f"{R5}|OVRLRESP|INVESTIGATOR|2",
            "RSSTRESC",
            "OVR=SD RECIST=NE",
            "ovr_vs_recist",
            "warning",
        ),
        (
            SURU,
            "201",
            "RS",
            R1,
            f"{R1}|OVRLRESP|INVESTIGATOR|3",
            "RSSTRESC",
            "OVR=SD RECIST=PD",
            "ovr_vs_recist",
            "warning",
        ),
        (
            SURU,
            "201",
            "RS",
            R2,
            f"{R2}|OVRLRESP|INVESTIGATOR|2",
            "RSSTRESC",
            "OVR=CR RECIST=PR",
            "ovr_vs_recist",
            "warning",
        ),
    ]


def test_review_message_says_what_the_recist_response_rests_on(warehouse):
    (message,) = one(warehouse, f"select MESSAGE from data_review.findings where USUBJID = '{R1}'")
    assert message == (
        "VISIT 3 on 2026-07-06: the investigator's overall response is SD but RECIST 1.1 computed from the "
        "tumour measurements gives PD (target PD: SOD 58.8 mm: -16.0% vs baseline 70 mm, +20.0% vs nadir 49 mm; "
        "non-target NON-CR/NON-PD; no new lesion). Check the measurements (TU/TR) or the response (RS)."
    )
