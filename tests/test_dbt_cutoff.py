"""The data cut-off and the reference date, end to end through a real dbt build.

Same harness as test_dbt_boundaries.py (tests/helpers/dbt_warehouse.py), but
config.* holds two test-only study configurations (``parse_study`` of a dict,
no study file in studies/):

- HCC-CUT: data cut-off 2026-03-31 (C), reference date TRTSDT, confirmation
  28 days, SD minimum 28, no CR marker rule, single-cell domains. Every case
  sits on the boundary: a record on C (kept) and one the day after (hidden),
  and records that span C (an EX period or AE that starts by C and ends after).
- RAND-ENR: randomised (drug / placebo), reference date ENRLDT, no cut-off:
  PFS counts from randomisation, where TRTSDT is a week later.

analysis-tables.md, Conventions: records dated after the cut-off "are ignored
by every analysis table and by the data-review findings that compare records
(a record the cut-off hides cannot make or break a finding), and censoring
never goes past it". docs/derivations.md ("Data cut-off") states the rules;
the arithmetic behind each expected value is written next to it. Subjects are
enrolled 2026-01-05 and dosed from 2026-01-10 (TRTSDT) unless said otherwise;
2026 is not a leap year, so 10 Jan -> 31 Mar = 21 + 28 + 31 = 80 days and
5 Jan -> 31 Mar = 26 + 28 + 31 = 85 days.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.helpers.dbt_warehouse import RawRows, create_warehouse, one, query
from trialdw.dbt_runner import dbt_build
from trialdw.project import PROJECT_ROOT
from trialdw.study_config import parse_study

pytestmark = pytest.mark.slow

CUT, RAND = "HCC-CUT", "RAND-ENR"
TRANSFER = "20260801T020000Z"
CUTOFF = "2026-03-31"
DAY_AFTER = "2026-04-01"
TRTSDT = "2026-01-10"
D = dt.date.fromisoformat

STUDIES = {
    CUT: parse_study(
        {
            "study": CUT,
            "title": "test study with a data cut-off",
            "arm": {"armcd": "DRUGA", "arm": "DRUG A"},
            "treatments": [{"extrt": "DRUG A", "dose": 80, "dosu": "mg", "dosfrq": "QD", "route": "ORAL"}],
            "domains": ["DM", "SC", "EX", "AE", "TU", "TR", "RS", "LB", "DS", "SS", "CP", "GF"],
            "visits": {"assessment_interval_days": 42},
            "response": {"reference_date": "TRTSDT", "confirmation_days": 28, "sd_minimum_days": 28},
            "data_cutoff": CUTOFF,
        },
        "<test: cut-off study>",
    ),
    RAND: parse_study(
        {
            "study": RAND,
            "title": "randomised test study counting from randomisation",
            "arms": [{"armcd": "DRUGB", "arm": "DRUG B"}, {"armcd": "PBO", "arm": "PLACEBO"}],
            "treatments": [
                {"extrt": "DRUG B", "dose": 100, "dosu": "mg", "dosfrq": "QD", "route": "ORAL"},
                {"extrt": "PLACEBO", "dose": 0, "dosu": "mg", "dosfrq": "QD", "route": "ORAL", "placebo": True},
            ],
            "domains": ["DM", "EX", "AE", "TU", "TR", "RS", "DS"],
            "visits": {"assessment_interval_days": 42},
            "response": {"reference_date": "ENRLDT", "confirmation_days": 28, "sd_minimum_days": 28},
        },
        "<test: randomised study>",
    ),
}


def cut(n: int) -> str:
    return f"{CUT}-301-{n:03d}"


def rand(n: int) -> str:
    return f"{RAND}-401-{n:03d}"


DEATH_AFTER, DEATH_ON_CUTOFF, DEAD_CONTACT_ON_CUTOFF, DIED_BEFORE = cut(1), cut(2), cut(3), cut(4)
EX_SPANS, EX_ENDS_ON_CUTOFF, PD_AFTER, PD_ON_CUTOFF = cut(5), cut(6), cut(7), cut(8)
ENROLLED_AFTER, ENROLLED_ON_CUTOFF, SAMPLES = cut(9), cut(10), cut(11)
RAND_PD, RAND_NO_ASSESSMENT = rand(1), rand(2)


class CutoffRows(RawRows):
    def __init__(self):
        super().__init__(TRANSFER, STUDIES)

    def subject(self, usubjid, *, ex_end=None, dthdtc=None, enrl="2026-01-05", start=TRTSDT, target=None):
        """Enrolled `enrl`, dosed from `start` (ex_end None = ongoing); `target`: a baseline
        TARGET lesion's diameter (mm), identified and measured 2 days before `start`."""
        self.dm(usubjid, "2026-01-02", enrl, dthdtc=dthdtc)
        if start:
            self.ex(usubjid, 1, start, ex_end)
        if target:
            screening = (D(start) - dt.timedelta(days=2)).isoformat()
            self.lesion(usubjid, "T01", "TARGET", "LIVER", screening)
            self.diameter(usubjid, "T01", str(target), "0", screening)

    def contact(self, usubjid, date, status="ALIVE"):
        self.add("ss", usubjid, SSTESTCD="SURVSTAT", SSSTRESC=status, SSDTC=date)

    def disposition(self, usubjid, scat, decod, date):
        self.add("ds", usubjid, DSCAT="DISPOSITION EVENT", DSSCAT=scat, DSDECOD=decod, DSSTDTC=date)

    def sample(self, usubjid, refid, visit, cpdtc, cells, expression, gfdtc=None):
        for code, n in cells.items():
            self.add(
                "cp",
                usubjid,
                CPREFID=refid,
                CPSPEC="TUMOR TISSUE",
                VISIT=visit,
                VISITNUM="0" if visit == "BASELINE" else "2",
                CPTESTCD=code,
                CPTEST=code.title(),
                CPSTRESN=str(n),
                CPSTRESU="CELLS",
                CPMETHOD="SCRNA-SEQ",
                CPDTC=cpdtc,
            )
        self.add(
            "gf",
            usubjid,
            GFREFID=refid,
            VISIT=visit,
            VISITNUM="0" if visit == "BASELINE" else "2",
            GFCELLTY="TCELL",
            GFGENSY="CD8A",
            GFSTRESN=str(expression),
            GFSTRESU="LOG1P CPM",
            GFDTC=gfdtc or cpdtc,
        )


def _subject_rows() -> dict[str, list[dict]]:
    r = CutoffRows()

    # Death (DM and DS) the day after C, SS DEAD contact the day after C: nothing
    # of the death is known at C (the case); an ALIVE contact on C is.
    r.subject(DEATH_AFTER, ex_end="2026-02-20", dthdtc=DAY_AFTER)
    r.disposition(DEATH_AFTER, "END OF STUDY", "DEATH", DAY_AFTER)
    r.contact(DEATH_AFTER, CUTOFF)
    r.contact(DEATH_AFTER, DAY_AFTER, "DEAD")

    # Death on C (DM and DS agree); the DEAD contact the day after.
    r.subject(DEATH_ON_CUTOFF, ex_end="2026-02-20", dthdtc=CUTOFF)
    r.disposition(DEATH_ON_CUTOFF, "END OF STUDY", "DEATH", CUTOFF)
    r.contact(DEATH_ON_CUTOFF, DAY_AFTER, "DEAD")

    # Death the day after C, but the DEAD contact on C: at C the subject is
    # reported dead with no date of death known.
    r.subject(DEAD_CONTACT_ON_CUTOFF, ex_end="2026-02-20", dthdtc=DAY_AFTER)
    r.contact(DEAD_CONTACT_ON_CUTOFF, CUTOFF, "DEAD")

    # Death on 20 Mar, before C; records after the death on C and the day after.
    r.subject(DIED_BEFORE, ex_end=CUTOFF, dthdtc="2026-03-20")  # EX 1 ends on C, after death
    r.ex(DIED_BEFORE, 2, "2026-03-25", DAY_AFTER)  # starts after death; its end is not known at C
    r.disposition(DIED_BEFORE, "END OF TREATMENT", "DEATH", CUTOFF)  # disagrees with DM
    r.disposition(DIED_BEFORE, "END OF STUDY", "DEATH", DAY_AFTER)  # disagrees too, but hidden
    r.afp(DIED_BEFORE, CUTOFF, 5)
    r.afp(DIED_BEFORE, DAY_AFTER, 5)
    r.ae(DIED_BEFORE, 1, "2026-03-25", DAY_AFTER)  # start after death; end unknown at C
    r.ae(DIED_BEFORE, 2, "2026-03-10", CUTOFF)  # end on C, after death
    r.ovr(DIED_BEFORE, 1, CUTOFF, "NE")
    r.ovr(DIED_BEFORE, 2, DAY_AFTER, "NE")

    # An EX period spanning C: 1 Mar -> 1 Apr is ongoing at C; a period starting
    # the day after C does not exist at C. TRTEDT = 1 Mar, + 30 days = 31 Mar = C.
    r.subject(EX_SPANS, ex_end="2026-02-20")
    r.ex(EX_SPANS, 2, "2026-03-01", DAY_AFTER)
    r.ex(EX_SPANS, 3, DAY_AFTER, "2026-04-20")
    r.ae(EX_SPANS, 1, CUTOFF, DAY_AFTER)  # spans C: ongoing at C
    r.ae(EX_SPANS, 2, "2026-03-20", CUTOFF)  # ends on C
    r.ae(EX_SPANS, 3, DAY_AFTER, None)  # starts the day after C
    r.ae(EX_SPANS, 4, "2026-03", "2026-04")  # partial end: at the latest 30 Apr, after C
    r.ae(EX_SPANS, 5, "2026-02", "2026-03")  # partial end: at the latest 31 Mar = C
    r.contact(EX_SPANS, DAY_AFTER)

    # An EX period ending on C; partial AE ends before their starts, one AE hidden.
    r.subject(EX_ENDS_ON_CUTOFF, ex_end=CUTOFF)
    r.ae(EX_ENDS_ON_CUTOFF, 1, "2026-03-15", "2026-02")  # visible: ends at the latest 28 Feb
    r.ae(EX_ENDS_ON_CUTOFF, 2, "2026-04-05", "2026-03")  # the same problem, but starts after C
    r.contact(EX_ENDS_ON_CUTOFF, DAY_AFTER)

    # PR, PR on C (confirmed: 38 days), then PD and a new lesion the day after C.
    r.subject(PD_AFTER, target=50)
    r.ovr(PD_AFTER, 1, "2026-02-21", "PR")
    r.diameter(PD_AFTER, "T01", "30", "1", "2026-02-21")
    r.ovr(PD_AFTER, 2, CUTOFF, "PR")
    r.diameter(PD_AFTER, "T01", "30", "2", CUTOFF)
    r.ovr(PD_AFTER, 3, DAY_AFTER, "PD")
    r.diameter(PD_AFTER, "T01", "40", "3", DAY_AFTER)
    r.lesion(PD_AFTER, "NEW01", "NEW", "LUNG", DAY_AFTER, visit="VISIT 3")

    # PD on C: 61 mm vs nadir 50 (+22 %, +11 mm).
    r.subject(PD_ON_CUTOFF, target=50)
    r.ovr(PD_ON_CUTOFF, 1, CUTOFF, "PD")
    r.diameter(PD_ON_CUTOFF, "T01", "61", "1", CUTOFF)

    # Enrolled the day after C (a screening AE before): not in the cut at all.
    r.subject(ENROLLED_AFTER, enrl=DAY_AFTER, start=None)
    r.ae(ENROLLED_AFTER, 1, "2026-03-30", "2026-02")  # would be end_before_start_partial

    # Enrolled on C, not dosed yet.
    r.subject(ENROLLED_ON_CUTOFF, enrl=CUTOFF, start=None)

    # Biopsies: baseline, one on C, one whose CP rows are dated C but GF rows the
    # day after (the sample is not complete at C), one the day after.
    r.subject(SAMPLES)
    r.sample(SAMPLES, "B", "BASELINE", "2026-01-08", {"TUMOR": 60, "TCELL": 40}, 1.0)
    r.sample(SAMPLES, "T1", "ON TREATMENT", CUTOFF, {"TUMOR": 30, "TCELL": 70}, 2.5)
    r.sample(SAMPLES, "T2", "ON TREATMENT", CUTOFF, {"TUMOR": 10, "TCELL": 90}, 3.0, gfdtc=DAY_AFTER)
    r.sample(SAMPLES, "T3", "ON TREATMENT", DAY_AFTER, {"TUMOR": 50, "TCELL": 50}, 4.0)

    # Randomised 5 Jan, first dose 12 Jan; SD 16 Feb, PD 2 Mar (61 mm vs nadir 48).
    r.subject(RAND_PD, start="2026-01-12", target=50)
    r.ovr(RAND_PD, 1, "2026-02-16", "SD")
    r.diameter(RAND_PD, "T01", "48", "1", "2026-02-16")
    r.ovr(RAND_PD, 2, "2026-03-02", "PD")
    r.diameter(RAND_PD, "T01", "61", "2", "2026-03-02")

    # Randomised 5 Jan, first dose 12 Jan, never assessed after baseline.
    r.subject(RAND_NO_ASSESSMENT, start="2026-01-12", target=50)
    return r.rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    db_path = tmp_path_factory.mktemp("dbt_cutoff") / "warehouse.duckdb"
    create_warehouse(
        db_path,
        _subject_rows(),
        transfers=[(CUT, "301", TRANSFER, True), (RAND, "401", TRANSFER, True)],
        studies=STUDIES,
    )
    result = dbt_build(db_path)
    assert result.success, "\n".join(result.failures)
    assert result.unit_tests_failed == 0 and result.tests_failed == 0
    return db_path


def _adsl(db, subject, columns):
    return one(db, f"select {columns} from adam.adsl where USUBJID = '{subject}'")


def _adtte(db, subject, paramcd):
    rows = query(
        db,
        f"select STARTDT, ADT, AVAL, CNSR, EVNTDESC, CNSDTDSC from adam.adtte "
        f"where USUBJID = '{subject}' and PARAMCD = '{paramcd}'",
    )
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def _findings(db, subject):
    return query(
        db,
        f"select DOMAIN, RECORD_KEY, COLUMN_NAME, VALUE, RULE from data_review.findings "
        f"where USUBJID = '{subject}' order by RULE, DOMAIN, RECORD_KEY, COLUMN_NAME",
    )


# ---------------------------------------------------------------- deaths and survival contacts


def test_death_and_dead_contact_after_the_cutoff_are_not_known_and_make_no_finding(warehouse):
    # The case: DM and DS death, and the SS DEAD contact, all the day after C.
    assert _adsl(warehouse, DEATH_AFTER, "DTHDT, DTHFL, LSTALVDT") == (None, None, D(CUTOFF))
    assert _findings(warehouse, DEATH_AFTER) == []
    # OS censored at the ALIVE contact on C: 5 Jan -> 31 Mar = 85 days, + 1
    assert _adtte(warehouse, DEATH_AFTER, "OS") == (
        D("2026-01-05"),
        D(CUTOFF),
        86,
        1,
        "ALIVE",
        "LAST KNOWN ALIVE DATE",
    )


def test_death_on_the_cutoff_is_an_os_event(warehouse):
    assert _adsl(warehouse, DEATH_ON_CUTOFF, "DTHDT, DTHFL") == (D(CUTOFF), "Y")
    assert _adtte(warehouse, DEATH_ON_CUTOFF, "OS") == (D("2026-01-05"), D(CUTOFF), 86, 0, "DEATH", None)
    assert _findings(warehouse, DEATH_ON_CUTOFF) == []


def test_dead_contact_on_the_cutoff_without_a_known_death_date_is_a_finding(warehouse):
    assert _adsl(warehouse, DEAD_CONTACT_ON_CUTOFF, "DTHDT") == (None,)
    key = f"{DEAD_CONTACT_ON_CUTOFF}|{CUTOFF}"
    assert _findings(warehouse, DEAD_CONTACT_ON_CUTOFF) == [("SS", key, "SSSTRESC", "DEAD", "dead_without_death_date")]


def test_records_after_death_count_on_the_cutoff_not_the_day_after(warehouse):
    s = DIED_BEFORE
    assert _findings(warehouse, s) == [
        # AE 1 starts after death; its end (1 Apr) is not known at C
        ("AE", f"{s}|1", "AESTDTC", "2026-03-25", "date_after_death"),
        # AE 2 ends on C, after death
        ("AE", f"{s}|2", "AEENDTC", CUTOFF, "date_after_death"),
        # EX 1 ends on C; EX 2 starts after death, its end (1 Apr) not known at C
        ("EX", f"{s}|1", "EXENDTC", CUTOFF, "date_after_death"),
        ("EX", f"{s}|2", "EXSTDTC", "2026-03-25", "date_after_death"),
        # the AFP on C; not the one the day after
        ("LB", f"{s}|AFP|{CUTOFF}", "LBDTC", CUTOFF, "date_after_death"),
        # the response on C; not visit 2 the day after
        ("RS", f"{s}|OVRLRESP|INVESTIGATOR|1", "RSDTC", CUTOFF, "date_after_death"),
        # DS END OF TREATMENT on C disagrees with DM; END OF STUDY (1 Apr) is hidden
        ("DS", f"{s}|END OF TREATMENT", "DSSTDTC", f"DS={CUTOFF} DTHDT=2026-03-20", "death_date_disagreement"),
    ]
    # TRTEDT: EX 1 ends on C; EX 2 is ongoing at C and contributes its start (25 Mar)
    assert _adsl(warehouse, s, "DTHDT, TRTEDT, LSTALVDT") == (D("2026-03-20"), D(CUTOFF), D("2026-03-20"))
    assert query(warehouse, f"select ADT from adam.adrs where USUBJID = '{s}' and PARAMCD = 'OVR'") == [(D(CUTOFF),)]


# ---------------------------------------------------------------- EX periods and AEs spanning the cut-off


def test_ex_period_ending_after_the_cutoff_is_ongoing_at_it(warehouse):
    # EX 2 (1 Mar -> 1 Apr) is ongoing at C: it contributes its start, like any
    # ongoing period; EX 3 (from 1 Apr) does not exist at C. LSTALVDT: the AE
    # starting on C; the ALIVE contact the day after is hidden.
    assert _adsl(warehouse, EX_SPANS, "TRTSDT, TRTEDT, LSTALVDT, EOTSTT") == (
        D(TRTSDT),
        D("2026-03-01"),
        D(CUTOFF),
        "ONGOING",
    )
    # The other side: a period ending on C. LSTALVDT = its end (the contact the day after is hidden).
    assert _adsl(warehouse, EX_ENDS_ON_CUTOFF, "TRTEDT, LSTALVDT") == (D(CUTOFF), D(CUTOFF))
    assert _adtte(warehouse, EX_ENDS_ON_CUTOFF, "OS")[1:4] == (D(CUTOFF), 86, 1)


def test_ae_spanning_the_cutoff_is_ongoing_and_ae_after_it_is_not_there(warehouse):
    rows = query(
        warehouse,
        f"select AESEQ, ASTDT, ASTDTF, AENDT, AENDTF, ASTDY, AENDY, ADURN, TRTEMFL from adam.adae "
        f"where USUBJID = '{EX_SPANS}' order by AESEQ",
    )
    assert rows == [
        # starts on C = TRTEDT (1 Mar) + 30: emergent; day 80 + 1; ends the day after C: ongoing
        (1, D(CUTOFF), None, None, None, 81, None, None, "Y"),
        # ends on C: 20 Mar -> 31 Mar = 11 days, + 1; study days 21 + 28 + 20 = 69, + 1 and 80 + 1
        (2, D("2026-03-20"), None, D(CUTOFF), None, 70, 81, 12, "Y"),
        # (AESEQ 3 starts the day after C: not in ADAE)
        # "2026-03" -> 1 Mar (day 21 + 28 + 1 = 50, + 1); end "2026-04" at the latest 30 Apr, after C: ongoing
        (4, D("2026-03-01"), "D", None, None, 51, None, None, "Y"),
        # "2026-02" -> 1 Feb (day 22 + 1); end "2026-03" -> 31 Mar = C, known: 1 Feb -> 31 Mar = 58 days, + 1
        (5, D("2026-02-01"), "D", D(CUTOFF), "D", 23, 81, 59, "Y"),
    ]


def test_partial_ae_end_before_start_is_a_finding_only_when_the_ae_is_known_at_the_cutoff(warehouse):
    s = EX_ENDS_ON_CUTOFF
    assert _findings(warehouse, s) == [("AE", f"{s}|1", "AEENDTC", "2026-02", "end_before_start_partial")]
    assert query(warehouse, f"select AESEQ from adam.adae where USUBJID = '{s}'") == [(1,)]


# ---------------------------------------------------------------- responses and PFS


def test_pd_the_day_after_the_cutoff_is_not_known_and_pfs_is_censored_on_it(warehouse):
    assert query(
        warehouse,
        f"select ADT, AVALC, ANL01FL from adam.adrs where USUBJID = '{PD_AFTER}' "
        f"and PARAMCD in ('OVR', 'OVRRECIS') order by PARAMCD, ADT",
    ) == [
        (D("2026-02-21"), "PR", "Y"),
        (D(CUTOFF), "PR", "Y"),
        (D("2026-02-21"), "PR", "Y"),  # RECIST: 30 mm vs 50 (-40 %)
        (D(CUTOFF), "PR", "Y"),  # the new lesion and 40 mm the day after are not there
    ]
    params = dict(
        query(
            warehouse,
            f"select PARAMCD, AVALC from adam.adrs where USUBJID = '{PD_AFTER}' and PARAMCD in ('CBOR', 'PD')",
        )
    )
    # 21 Feb -> 31 Mar = 38 >= 28 days: confirmed PR; no PD at C
    assert params == {"CBOR": "PR", "PD": "N"}
    # censored at the last adequate assessment, on C: 80 days, + 1 (never past C)
    assert _adtte(warehouse, PD_AFTER, "PFS") == (
        D(TRTSDT),
        D(CUTOFF),
        81,
        1,
        "NO PROGRESSION OR DEATH",
        "LAST ADEQUATE ASSESSMENT DATE",
    )
    # DOR 21 Feb -> 31 Mar = 7 + 31 = 38 days, + 1
    assert _adtte(warehouse, PD_AFTER, "DOR")[1:4] == (D(CUTOFF), 39, 1)
    assert _findings(warehouse, PD_AFTER) == []


def test_pd_on_the_cutoff_is_a_pfs_event(warehouse):
    assert _adtte(warehouse, PD_ON_CUTOFF, "PFS") == (D(TRTSDT), D(CUTOFF), 81, 0, "DISEASE PROGRESSION", None)
    assert _findings(warehouse, PD_ON_CUTOFF) == []  # RECIST agrees: +22 % and +11 mm over the nadir


# ---------------------------------------------------------------- subjects and samples


def test_a_subject_enrolled_after_the_cutoff_is_not_in_the_cut(warehouse):
    assert query(warehouse, f"select * from adam.adsl where USUBJID = '{ENROLLED_AFTER}'") == []
    assert query(warehouse, f"select * from adam.adae where USUBJID = '{ENROLLED_AFTER}'") == []
    assert _findings(warehouse, ENROLLED_AFTER) == []
    # enrolled on C: in the ITT population, OS censored at enrolment (day 1)
    assert _adsl(warehouse, ENROLLED_ON_CUTOFF, "ITTFL, SAFFL, LSTALVDT") == ("Y", "N", D(CUTOFF))
    assert _adtte(warehouse, ENROLLED_ON_CUTOFF, "OS")[1:4] == (D(CUTOFF), 1, 1)


def test_single_cell_samples_are_cut_whole(warehouse):
    # T1 (on C) counts; T2 (CP on C, GF the day after) and T3 (the day after) do not, in adcp or adgf.
    assert query(
        warehouse,
        f"select CPREFID, CELLS, TOTCELLS, round(AVAL, 6), round(BASE, 6), round(CHG, 6) from adam.adcp "
        f"where USUBJID = '{SAMPLES}' and PARAMCD = 'TCELL' order by CPREFID",
    ) == [("B", 40, 100, 0.4, 0.4, None), ("T1", 70, 100, 0.7, 0.4, 0.3)]
    assert query(
        warehouse, f"select GFREFID, AVAL, BASE, CHG from adam.adgf where USUBJID = '{SAMPLES}' order by GFREFID"
    ) == [("B", 1.0, 1.0, None), ("T1", 2.5, 1.0, 1.5)]


def test_no_analysis_date_is_after_the_cutoff(warehouse):
    dates = query(
        warehouse,
        f"""
        select max(d) from (
            select unnest([ENRLDT, TRTSDT, TRTEDT, DTHDT, LSTALVDT]) as d from adam.adsl where STUDYID = '{CUT}'
            union all select unnest([ASTDT, AENDT]) from adam.adae where STUDYID = '{CUT}'
            union all select ADT from adam.adrs where STUDYID = '{CUT}'
            union all select unnest([STARTDT, ADT]) from adam.adtte where STUDYID = '{CUT}'
            union all select ADT from adam.adcp where STUDYID = '{CUT}'
            union all select ADT from adam.adgf where STUDYID = '{CUT}'
        )
        """,
    )
    assert dates == [(D(CUTOFF),)]


# ---------------------------------------------------------------- PFS from the reference date ENRLDT


def test_pfs_of_a_randomised_study_counts_from_enrldt(warehouse):
    assert _adsl(warehouse, RAND_PD, "ENRLDT, TRTSDT") == (D("2026-01-05"), D("2026-01-12"))
    # 5 Jan -> 2 Mar = 26 + 28 + 2 = 56 days, + 1 (from TRTSDT it would be 49 + 1 = 50)
    assert _adtte(warehouse, RAND_PD, "PFS") == (D("2026-01-05"), D("2026-03-02"), 57, 0, "DISEASE PROGRESSION", None)


def test_pfs_without_adequate_assessment_is_censored_at_enrldt(warehouse):
    # censored at STARTDT = ENRLDT (5 Jan), not at TRTSDT (12 Jan): 0 days, + 1
    assert _adtte(warehouse, RAND_NO_ASSESSMENT, "PFS") == (
        D("2026-01-05"),
        D("2026-01-05"),
        1,
        1,
        "NO PROGRESSION OR DEATH",
        "ENROLMENT (NO ADEQUATE ASSESSMENT)",
    )
    assert one(
        warehouse, f"select SRCDOM, SRCVAR from adam.adtte where USUBJID = '{RAND_NO_ASSESSMENT}' and PARAMCD = 'PFS'"
    ) == ("ADSL", "ENRLDT")


# ---------------------------------------------------------------- one place


def test_only_the_cutoff_models_read_the_site_staging_models():
    """Every model and macro past staging reads the records as known at the
    cut-off (int_<domain>_at_cutoff), so all see the same hidden set; a new
    model reading stg_site__* directly would bypass the cut-off."""
    dbt = PROJECT_ROOT / "dbt_project"
    readers = sorted(
        str(path.relative_to(dbt))
        for path in [*dbt.glob("models/**/*.sql"), *dbt.glob("macros/**/*.sql"), *dbt.glob("tests/**/*.sql")]
        if "ref('stg_site__" in path.read_text(encoding="utf-8") and path.parent.name not in ("staging", "cutoff")
    )
    assert readers == []
