"""The analysis spec's boundary cases, end to end through a real dbt build.

Same harness as test_dbt_adam.py (tests/helpers/dbt_warehouse.py): a real DuckDB warehouse in tmp_path holding
raw.* (as the loader writes it), audit.transfers and config.* from the real
studies/*.yml, then the whole `dbt build` (models, dbt tests, unit tests).
Every subject sits on one boundary of ../shared/spec/analysis-tables.md; the
arithmetic behind each expected value is written next to it.
docs/derivations.md ("Boundary cases -> test") lists which test covers which case.

Study HCC-REGO-PD1: confirmation 28 days, SD minimum 28 days from TRTSDT, AFP
CR marker rule (ULN 10 here) with a +/- 14 day window. Every dosed subject
starts treatment on 2026-01-10 (TRTSDT), so "day N" below is ADT - TRTSDT.
2026 is not a leap year.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.helpers.dbt_warehouse import RawRows, create_warehouse, one, query
from trialdw.dbt_runner import dbt_build

pytestmark = pytest.mark.slow

STUDY, SITE, TRANSFER = "HCC-REGO-PD1", "101", "20260801T020000Z"
TRTSDT = "2026-01-10"
D = dt.date.fromisoformat


def usubjid(n: int) -> str:
    return f"{STUDY}-{SITE}-{n:03d}"


PD_THEN_PR, PR_PD_PR, PR_27_DAYS, SD_AT_MINIMUM = usubjid(1), usubjid(2), usubjid(3), usubjid(4)
SD_TOO_EARLY_THEN_DEATH, DEATH_AT_LAST_ASSESSMENT, NO_ASSESSMENT = usubjid(5), usubjid(6), usubjid(7)
AFP_BOUNDARIES, FIRST_PR_UNCONFIRMED, AE_DATES = usubjid(8), usubjid(9), usubjid(10)


class BoundaryRows(RawRows):
    """The shared raw-row builder, plus this module's two scenario steps."""

    def __init__(self):
        super().__init__(TRANSFER)

    def subject(
        self, subject: str, *, dthdtc: str | None = None, ex_end: str | None = None, target_lesion: bool = True
    ) -> None:
        """Enrolled 2026-01-05, dosed from TRTSDT (ex_end None = ongoing), a baseline target lesion."""
        self.dm(subject, "2026-01-02", "2026-01-05", dthdtc=dthdtc)
        self.ex(subject, 1, TRTSDT, ex_end, extrt="REGORAFENIB")
        if target_lesion:
            self.lesion(subject, "T01", "TARGET", "LIVER", "2026-01-08")

    def responses(self, subject: str, *dated: tuple[str, str]) -> None:
        """Investigator overall responses, (RSDTC, OVRLRESP), one visit each."""
        for visitnum, (rsdtc, response) in enumerate(dated, start=1):
            self.ovr(subject, visitnum, rsdtc, response)


def _subject_rows() -> dict[str, list[dict]]:
    s = BoundaryRows()

    # PD first, then two PRs 42 days apart: after the first PD, outside ANL01FL.
    s.subject(PD_THEN_PR)
    s.responses(PD_THEN_PR, ("2026-02-21", "PD"), ("2026-04-04", "PR"), ("2026-05-16", "PR"))

    # PR, PR exactly 28 days later (confirmed), PD, then a PR after the PD.
    s.subject(PR_PD_PR)
    s.responses(PR_PD_PR, ("2026-02-21", "PR"), ("2026-03-21", "PR"), ("2026-05-02", "PD"), ("2026-06-13", "PR"))

    # PR, PR 27 days later: not confirmed.
    s.subject(PR_27_DAYS)
    s.responses(PR_27_DAYS, ("2026-02-21", "PR"), ("2026-03-20", "PR"))

    # A single SD exactly on the SD minimum (day 28).
    s.subject(SD_AT_MINIMUM)
    s.responses(SD_AT_MINIMUM, ("2026-02-07", "SD"))

    # A single SD one day short of the minimum (day 27); then death without any PD.
    s.subject(SD_TOO_EARLY_THEN_DEATH, dthdtc="2026-03-15", ex_end="2026-02-20")
    s.responses(SD_TOO_EARLY_THEN_DEATH, ("2026-02-06", "SD"))

    # Death on the day of the last (adequate) assessment.
    s.subject(DEATH_AT_LAST_ASSESSMENT, dthdtc="2026-02-21", ex_end="2026-02-20")
    s.responses(DEATH_AT_LAST_ASSESSMENT, ("2026-02-21", "SD"))

    # Dosed, measurable disease, never assessed after baseline.
    s.subject(NO_ASSESSMENT)

    # AFP marker rule on the boundaries (ULN 10; window 14 days inclusive):
    #   CR 21 Feb, AFP 10 (= ULN) the same day         -> CR stays
    #   CR 21 Mar, AFP 10.1 (ULN + 0.1) the same day    -> PR
    #   CR  2 May, AFP 3 on 18 Apr (14 days before)     -> CR stays
    #   CR 13 Jun, AFP 3 on 29 May and 28 Jun (15 days) -> PR (nothing within 14 days)
    s.subject(AFP_BOUNDARIES)
    s.responses(AFP_BOUNDARIES, ("2026-02-21", "CR"), ("2026-03-21", "CR"), ("2026-05-02", "CR"), ("2026-06-13", "CR"))
    for lbdtc, value in (
        ("2026-02-21", "10"),
        ("2026-03-21", "10.1"),
        ("2026-04-18", "3"),
        ("2026-05-29", "3"),
        ("2026-06-28", "3"),
    ):
        s.afp(AFP_BOUNDARIES, lbdtc, value)

    # PR, SD, PR, PR: the SD breaks the first PR's confirmation; the last two confirm.
    s.subject(FIRST_PR_UNCONFIRMED)
    s.responses(
        FIRST_PR_UNCONFIRMED, ("2026-02-21", "PR"), ("2026-04-04", "SD"), ("2026-05-16", "PR"), ("2026-06-27", "PR")
    )

    # AE dates around TRTSDT (10 Jan) and TRTEDT (9 Feb; + 30 days = 11 Mar).
    s.subject(AE_DATES, ex_end="2026-02-09")
    s.ae(AE_DATES, 1, "2026-03-11", "2026-03-20", soc="GI", pt="NAUSEA", grade=3)  # TRTEDT + 30
    s.ae(AE_DATES, 2, "2026-03-12", "2026-03-20", soc="GI", pt="VOMITING", grade=4)  # TRTEDT + 31
    s.ae(AE_DATES, 3, "2026-01-10", "2026-01-12", soc="GI", pt="NAUSEA", grade=1)  # on TRTSDT
    s.ae(AE_DATES, 4, "2026-01-09", "2026-01-12", soc="SKIN", pt="RASH", grade=3)  # day before TRTSDT
    s.ae(AE_DATES, 5, "2026-01", None, soc="SKIN", pt="RASH", grade=2)  # TRTSDT's month, ongoing
    s.ae(AE_DATES, 6, "2026", "2026-01-05", soc="SKIN", pt="PRURITUS", grade=1)  # TRTSDT's year, ended before
    s.ae(AE_DATES, 7, "2026", "2026-02", soc="SKIN", pt="PRURITUS", grade=3)  # TRTSDT's year, ends Feb
    s.ae(AE_DATES, 8, "2025-11", "2025", soc="GI", pt="NAUSEA", grade=2)  # before TRTSDT's year
    return s.rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    db_path = tmp_path_factory.mktemp("dbt_boundaries") / "warehouse.duckdb"
    create_warehouse(db_path, _subject_rows(), transfers=[(STUDY, SITE, TRANSFER, True)])
    result = dbt_build(db_path)
    assert result.success, "\n".join(result.failures)
    assert result.unit_tests_failed == 0 and result.tests_failed == 0
    return db_path


def _ovr(db, subject):
    return query(
        db, f"select ADT, AVALC, ANL01FL from adam.adrs where USUBJID = '{subject}' and PARAMCD = 'OVR' order by ADT"
    )


def _parameters(db, subject):
    """{PARAMCD: (AVALC, ADT)} of the one-per-subject response parameters."""
    rows = query(
        db,
        f"select PARAMCD, AVALC, ADT from adam.adrs where USUBJID = '{subject}' "
        f"and PARAMCD in ('BOR', 'CBOR', 'RSP', 'DCR', 'PD')",
    )
    return {paramcd: (avalc, adt) for paramcd, avalc, adt in rows}


def _adtte(db, subject, paramcd):
    rows = query(
        db,
        f"select STARTDT, ADT, AVAL, CNSR, EVNTDESC, CNSDTDSC from adam.adtte "
        f"where USUBJID = '{subject}' and PARAMCD = '{paramcd}'",
    )
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


# ---------------------------------------------------------------- response windows and confirmation


def test_responses_after_the_first_pd_are_not_counted(warehouse):
    assert _ovr(warehouse, PD_THEN_PR) == [
        (D("2026-02-21"), "PD", "Y"),
        (D("2026-04-04"), "PR", None),
        (D("2026-05-16"), "PR", None),
    ]
    params = _parameters(warehouse, PD_THEN_PR)
    assert params["BOR"] == ("PD", D("2026-02-21")) and params["CBOR"] == ("PD", D("2026-02-21"))
    assert params["RSP"] == ("N", None)
    # PFS event at the PD: 21 Feb - 10 Jan = 42 days, + 1
    assert _adtte(warehouse, PD_THEN_PR, "PFS") == (D(TRTSDT), D("2026-02-21"), 43, 0, "DISEASE PROGRESSION", None)
    assert _adtte(warehouse, PD_THEN_PR, "DOR") is None


def test_confirmed_response_before_the_pd_stands_and_dor_ends_at_the_pd(warehouse):
    assert _ovr(warehouse, PR_PD_PR)[-1] == (D("2026-06-13"), "PR", None)
    # 21 Mar - 21 Feb = 28 days: exactly the confirmation interval
    assert _parameters(warehouse, PR_PD_PR)["CBOR"] == ("PR", D("2026-02-21"))
    # DOR 21 Feb -> PD 2 May: 7 (Feb) + 31 (Mar) + 30 (Apr) + 2 = 70 days, + 1
    assert _adtte(warehouse, PR_PD_PR, "DOR") == (D("2026-02-21"), D("2026-05-02"), 71, 0, "DISEASE PROGRESSION", None)
    # PFS 10 Jan -> 2 May: 21 + 28 + 31 + 30 + 2 = 112 days, + 1
    assert _adtte(warehouse, PR_PD_PR, "PFS")[1:4] == (D("2026-05-02"), 113, 0)


def test_pr_confirmed_27_days_later_is_not_confirmed(warehouse):
    # 20 Mar - 21 Feb = 27 < 28; the first PR (day 42 >= SD minimum 28) makes it SD
    params = _parameters(warehouse, PR_27_DAYS)
    assert params["BOR"] == ("PR", D("2026-02-21"))
    assert params["CBOR"] == ("SD", D("2026-02-21"))
    assert (params["RSP"][0], params["DCR"][0]) == ("N", "Y")


def test_sd_exactly_at_the_sd_minimum_counts(warehouse):
    # 7 Feb - 10 Jan = 21 + 7 = 28 >= 28
    params = _parameters(warehouse, SD_AT_MINIMUM)
    assert params["BOR"] == ("SD", D("2026-02-07")) and params["CBOR"] == ("SD", D("2026-02-07"))
    assert params["DCR"] == ("Y", D("2026-02-07"))


def test_sd_one_day_short_is_ne_and_death_without_pd_is_the_pfs_event(warehouse):
    # 6 Feb - 10 Jan = 27 < 28
    params = _parameters(warehouse, SD_TOO_EARLY_THEN_DEATH)
    assert params["BOR"][0] == "NE" and params["CBOR"][0] == "NE" and params["DCR"] == ("N", None)
    assert params["PD"] == ("N", None)
    # PFS event = death 15 Mar: 21 + 28 + 15 = 64 days, + 1
    assert _adtte(warehouse, SD_TOO_EARLY_THEN_DEATH, "PFS") == (D(TRTSDT), D("2026-03-15"), 65, 0, "DEATH", None)


def test_death_on_the_day_of_the_last_assessment_is_a_pfs_event(warehouse):
    # 21 Feb - 10 Jan = 42 days, + 1; an event, not censored at that assessment
    assert _adtte(warehouse, DEATH_AT_LAST_ASSESSMENT, "PFS") == (D(TRTSDT), D("2026-02-21"), 43, 0, "DEATH", None)
    # the assessment on the death date does not push LSTALVDT past DTHDT
    assert one(warehouse, f"select DTHDT, LSTALVDT from adam.adsl where USUBJID = '{DEATH_AT_LAST_ASSESSMENT}'") == (
        D("2026-02-21"),
        D("2026-02-21"),
    )


def test_no_post_baseline_assessment(warehouse):
    params = _parameters(warehouse, NO_ASSESSMENT)
    assert params["CBOR"] == ("NE", None) and params["BOR"] == ("NE", None) and params["RSP"] == ("N", None)
    assert _ovr(warehouse, NO_ASSESSMENT) == []
    # censored at STARTDT: 10 Jan - 10 Jan = 0 days, + 1
    assert _adtte(warehouse, NO_ASSESSMENT, "PFS") == (
        D(TRTSDT),
        D(TRTSDT),
        1,
        1,
        "NO PROGRESSION OR DEATH",
        "TREATMENT START (NO ADEQUATE ASSESSMENT)",
    )


def test_afp_marker_rule_at_the_uln_and_window_edges(warehouse):
    rows = query(
        warehouse,
        f"select ADT, AVALC, ORRESP, MRKREAS from adam.adrs "
        f"where USUBJID = '{AFP_BOUNDARIES}' and PARAMCD = 'OVR' order by ADT",
    )
    assert rows == [
        (D("2026-02-21"), "CR", "CR", None),  # AFP 10 <= ULN 10
        (D("2026-03-21"), "PR", "CR", "CR counted as PR: AFP 10.1 on 2026-03-21 above upper limit 10.0"),
        (D("2026-05-02"), "CR", "CR", None),  # 2 May - 18 Apr = 14 days: inside
        (D("2026-06-13"), "PR", "CR", "CR counted as PR: no AFP result within 14 days"),  # 15 days either side
    ]
    # CR then PR 28 days later confirms a PR (†); the PR between breaks CR confirmation
    params = _parameters(warehouse, AFP_BOUNDARIES)
    assert params["BOR"] == ("CR", D("2026-02-21")) and params["CBOR"] == ("PR", D("2026-02-21"))


def test_sd_breaks_confirmation_and_dor_starts_at_the_first_pr(warehouse):
    # PR 21 Feb cannot pair with 16 May or 27 Jun (SD 4 Apr in between); 16 May -> 27 Jun = 42 days confirms
    assert _parameters(warehouse, FIRST_PR_UNCONFIRMED)["CBOR"] == ("PR", D("2026-05-16"))
    # DOR from the first PR (spec: "first CR or PR"), censored at the last adequate assessment:
    # 21 Feb -> 27 Jun = 7 + 31 + 30 + 31 + 27 = 126 days, + 1
    assert _adtte(warehouse, FIRST_PR_UNCONFIRMED, "DOR") == (
        D("2026-02-21"),
        D("2026-06-27"),
        127,
        1,
        "NO PROGRESSION OR DEATH",
        "LAST ADEQUATE ASSESSMENT DATE",
    )


# ---------------------------------------------------------------- ADAE


def test_adae_dates_treatment_emergence_and_study_days(warehouse):
    rows = query(
        warehouse,
        f"select AESEQ, ASTDT, ASTDTF, AENDT, AENDTF, ASTDY, TRTEMFL from adam.adae "
        f"where USUBJID = '{AE_DATES}' order by AESEQ",
    )
    assert rows == [
        # 11 Mar = TRTEDT 9 Feb + 30 (19 + 11): emergent; day 21 + 28 + 11 = 60, + 1
        (1, D("2026-03-11"), None, D("2026-03-20"), None, 61, "Y"),
        # one day later: not emergent
        (2, D("2026-03-12"), None, D("2026-03-20"), None, 62, None),
        # on TRTSDT: emergent, day 1
        (3, D("2026-01-10"), None, D("2026-01-12"), None, 1, "Y"),
        # the day before TRTSDT: day -1 (no day 0), not emergent
        (4, D("2026-01-09"), None, D("2026-01-12"), None, -1, None),
        # "2026-01", ongoing (did not end before TRTSDT) -> TRTSDT, day imputed
        (5, D("2026-01-10"), "D", None, None, 1, "Y"),
        # "2026" but ended 5 Jan, before TRTSDT -> 1 Jan, month imputed; 1 Jan - 10 Jan = -9
        (6, D("2026-01-01"), "M", D("2026-01-05"), None, -9, None),
        # "2026", end "2026-02" -> last day 28 Feb, not before TRTSDT -> start TRTSDT
        (7, D("2026-01-10"), "M", D("2026-02-28"), "D", 1, "Y"),
        # "2025-11" is not TRTSDT's month -> 1 Nov; end "2025" -> 31 Dec; 1 Nov - 10 Jan = -70
        (8, D("2025-11-01"), "D", D("2025-12-31"), "M", -70, None),
    ]


def test_adae_occurrence_flags(warehouse):
    rows = query(
        warehouse,
        f"select AESEQ, AOCCFL, AOCCSFL, AOCCPFL, AOCCIFL, AOCCSIFL, AOCCPIFL from adam.adae "
        f"where USUBJID = '{AE_DATES}' order by AESEQ",
    )
    # TEAEs: 1 (11 Mar GI NAUSEA 3), 3 (10 Jan GI NAUSEA 1), 5 (10 Jan SKIN RASH 2), 7 (10 Jan SKIN PRURITUS 3)
    assert rows == [
        # NAUSEA's worst grade (3 > 1); GI's worst; subject's worst 3 is shared with AESEQ 7,
        # which starts earlier (10 Jan) and so takes AOCCIFL
        (1, None, None, None, None, "Y", "Y"),
        (2, None, None, None, None, None, None),
        # earliest TEAE on 10 Jan, lowest AESEQ of the three that day; first GI, first NAUSEA
        (3, "Y", "Y", "Y", None, None, None),
        (4, None, None, None, None, None, None),  # pre-treatment grade 3: never flagged
        # first SKIN (10 Jan, AESEQ 5 < 7), first and only emergent RASH (grade 2 is its worst)
        (5, None, "Y", "Y", None, None, "Y"),
        (6, None, None, None, None, None, None),
        # first emergent PRURITUS (AESEQ 6 is not emergent) and its worst; SKIN's worst (3); subject's worst
        (7, None, None, "Y", "Y", "Y", "Y"),
        (8, None, None, None, None, None, None),
    ]
