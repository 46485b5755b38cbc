"""One subject's whole course, simulated once, as records of every domain.

The order of simulation follows cause and effect: baseline disease → tumour
assessments (the course decides response and progression) → adverse events
(may stop treatment) → end of treatment → exposure → labs → follow-up,
disposition, death. Every value comes from the subject's own
``random.Random``, so a subject is the same whatever else is generated.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from trialdw.study_config import StudyConfig
from trialdw.synth import catalogues as cat
from trialdw.synth.draws import pick
from trialdw.synth.records import Record, iso
from trialdw.synth.treatment import AdverseEvent, ae_records, exposure_records, fatal_ae, simulate_aes
from trialdw.synth.tumour import COURSES, Course, simulate_tumour

__all__ = ["COURSES", "SubjectPlan", "simulate_subject"]


@dataclass(frozen=True)
class SubjectPlan:
    """What is decided per site before any subject is simulated (cheap to hold)."""

    studyid: str
    siteid: str
    subjid: str
    course: str
    never_dosed: bool
    enrolled: dt.date
    country: str

    @property
    def usubjid(self) -> str:
        return f"{self.studyid}-{self.siteid}-{self.subjid}"


# --- the other domains ------------------------------------------------------------


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _baseline_characteristics(rng: random.Random, study: StudyConfig, course: Course) -> dict[str, str]:
    """SC values that agree with the scan: MVI from a portal vein lesion, EHS from any
    lesion outside the liver, BCLC C when either (or ECOG >= 1) is present."""
    locations = {lesion.loc for lesion in course.targets + course.nontargets}
    mvi = "PORTAL VEIN" in locations or rng.random() < 0.1
    ehs = bool(locations - {"LIVER", "PORTAL VEIN"})
    ecog = pick(rng, {0: 45, 1: 52, 2: 3})
    bclc = "C" if (mvi or ehs or ecog >= 1) else pick(rng, {"B": 9, "A": 1})
    return {
        "ECOG": str(ecog),
        "CHILDPGH": pick(rng, {"A": 92, "B": 8}),
        "BCLC": bclc,
        "ETIOLOGY": pick(rng, {"HBV": 75, "HCV": 8, "ALCOHOL": 8, "NASH": 5, "OTHER": 4}),
        "PRIORSYS": pick(rng, cat.PRIOR_SYSTEMIC.get(study.study, cat.DEFAULT_PRIOR_SYSTEMIC)),
        "MVI": "Y" if mvi else "N",
        "EHS": "Y" if ehs else "N",
    }


def _tumour_records(u: str, course: Course) -> list[Record]:
    records = []
    for lesion in course.targets + course.nontargets:
        records.append(
            Record(
                "TU",
                {
                    "USUBJID": u,
                    "TULNKID": lesion.lnkid,
                    "TUORRES": "TARGET" if lesion in course.targets else "NON-TARGET",
                    "TULOC": lesion.loc,
                    "TUMETHOD": course.method,
                    "TUDTC": iso(course.scan_date),
                    "VISIT": "SCREENING",
                },
                course.scan_date,
            )
        )

    def tr(lnkid, testcd, value, visit, visitnum, day):
        measured = testcd == "LDIAM"
        return Record(
            "TR",
            {
                "USUBJID": u,
                "TRLNKID": lnkid,
                "TRTESTCD": testcd,
                "TRORRES": str(value),
                "TRSTRESN": str(value) if measured else "",
                "TRSTRESU": "mm" if measured else "",
                "VISIT": visit,
                "VISITNUM": visitnum,
                "TRDTC": iso(day),
            },
            day,
        )

    for t in course.targets:
        records.append(tr(t.lnkid, "LDIAM", t.base_mm, "SCREENING", "0", course.scan_date))
    for n in course.nontargets:
        records.append(tr(n.lnkid, "TUMSTATE", "PRESENT", "SCREENING", "0", course.scan_date))
    for a in course.assessments:
        num = str(a.visitnum)
        for lnkid, size in a.sizes.items():
            if size is not None:
                records.append(tr(lnkid, "LDIAM", size, a.visit, num, a.date))
        for lnkid, state in a.nt_states.items():
            records.append(tr(lnkid, "TUMSTATE", state, a.visit, num, a.date))
        if a.new_lesion is not None:
            records.append(
                Record(
                    "TU",
                    {
                        "USUBJID": u,
                        "TULNKID": a.new_lesion.lnkid,
                        "TUORRES": "NEW",
                        "TULOC": a.new_lesion.loc,
                        "TUMETHOD": course.method,
                        "TUDTC": iso(a.date),
                        "VISIT": a.visit,
                    },
                    a.date,
                )
            )
            records.append(tr(a.new_lesion.lnkid, "TUMSTATE", "PRESENT", a.visit, num, a.date))
        r = a.response
        for testcd, value in (
            ("TRGRESP", r.trgresp),
            ("NTRGRESP", r.ntrgresp),
            ("NEWLPROG", r.newlprog),
            ("OVRLRESP", r.ovrlresp),
        ):
            if value is not None:
                records.append(
                    Record(
                        "RS",
                        {
                            "USUBJID": u,
                            "RSTESTCD": testcd,
                            "RSSTRESC": value,
                            "RSEVAL": "INVESTIGATOR",
                            "VISIT": a.visit,
                            "VISITNUM": num,
                            "RSDTC": iso(a.date),
                        },
                        a.date,
                    )
                )
    return records


def _lab_records(rng: random.Random, u: str, course: Course) -> list[Record]:
    subject_level = {t.code: t.typical * math.exp(rng.gauss(0, t.spread)) for t in cat.LAB_TESTS if t.code != "AFP"}
    draws = [("SCREENING", course.scan_date, course.baseline_afp)]
    previous = course.scan_date
    for a in course.assessments:
        # Labs a few days before the scan, the window the AFP marker rule looks in.
        day = max(a.date - _days(rng.randint(0, 4)), previous + _days(1))
        draws.append((a.visit, day, a.afp))
        previous = day
    records = []
    for visit, day, afp in draws:
        for test in cat.LAB_TESTS:
            value = afp if test.code == "AFP" else subject_level[test.code] * math.exp(rng.gauss(0, test.spread / 3))
            records.append(
                Record(
                    "LB",
                    {
                        "USUBJID": u,
                        "LBTESTCD": test.code,
                        "LBSTRESN": f"{value:.{test.decimals}f}",
                        "LBSTRESU": test.unit,
                        "LBSTNRLO": test.low,
                        "LBSTNRHI": test.high,
                        "VISIT": visit,
                        "LBDTC": iso(day),
                    },
                    day,
                )
            )
    return records


def simulate_subject(
    plan: SubjectPlan, study: StudyConfig, seed: int, horizon: dt.date, gf_background: dict | None = None
) -> list[Record]:
    """All records of one subject over the whole course up to ``horizon`` (the latest cut)."""
    rng = random.Random(f"{seed}|{plan.usubjid}")
    u, enrl = plan.usubjid, plan.enrolled
    rfic = enrl - _days(rng.randint(7, 28))
    scan = rfic + _days(rng.randint(1, (enrl - rfic).days))
    trtsdt = None if plan.never_dosed else enrl + _days(rng.randint(1, 6))
    age = min(max(int(rng.gauss(57, 10)), 28), 84)
    birth = dt.date(rfic.year - age - 1, 1, 1) + _days(rng.randint(0, 364))
    age_at_consent = rfic.year - birth.year - ((rfic.month, rfic.day) < (birth.month, birth.day))

    course = simulate_tumour(rng, plan.course, study, scan, trtsdt, horizon)
    sc = _baseline_characteristics(rng, study, course)
    death, stop, eot_reason, eot_date, eos = course.death, None, None, None, None
    aes: list[AdverseEvent] = []
    if trtsdt is None:
        # Withdrew consent between enrolment and the first dose: no follow-up.
        eot_date = enrl + _days(rng.randint(2, 8))
        eot_reason = "WITHDRAWAL BY SUBJECT"
        eos = (eot_date, "WITHDRAWAL BY SUBJECT")
    else:
        if course.pd_date is not None:
            stop, eot_reason = course.pd_date, "PROGRESSIVE DISEASE"
        if death is not None:
            stop, eot_reason = max(death - _days(rng.randint(1, 5)), trtsdt), "DEATH"
        aes = simulate_aes(rng, study, trtsdt, (stop or horizon) + _days(30), horizon)
        withdrawn = [ae for ae in aes if ae.acn == "DRUG WITHDRAWN" and (stop is None or ae.start < stop)]
        if withdrawn:
            stop, eot_reason = min(ae.start for ae in withdrawn), "ADVERSE EVENT"
        if stop is not None:
            aes = [ae for ae in aes if ae.start <= stop + _days(30)]
            for ae in aes:
                if ae.start > stop:
                    ae.acn = "NOT APPLICABLE"  # treatment already stopped
            eot_date = death if eot_reason == "DEATH" else stop + _days(rng.randint(0, 7))
        if death is None and stop is not None and eot_reason != "DEATH":
            chance = 0.75 if course.pd_date else 0.2
            if rng.random() < chance:
                candidate = stop + _days(14 + int(rng.expovariate(1 / 200)))
                death = candidate if candidate < horizon else None

    known = None
    if death is not None:
        known = death + _days(rng.randint(1, 7) if eot_reason == "DEATH" else rng.randint(3, 25))
        if trtsdt is not None and course.death is not None:
            aes.append(fatal_ae(rng, death, known))

    ss: list[tuple[str, dt.date]] = []
    if eot_date is not None and eot_reason not in ("DEATH", "WITHDRAWAL BY SUBJECT"):
        # Lost to follow-up now and then, but not a subject whose death is already an AE.
        lost_after = rng.randint(1, 3) if rng.random() < 0.12 and course.death is None else None
        contact = eot_date
        while True:
            contact += _days(rng.randint(50, 70))
            if contact >= horizon or (death is not None and contact >= death):
                break
            ss.append(("ALIVE", contact))
            if lost_after is not None and len(ss) >= lost_after:
                eos = (contact + _days(rng.randint(60, 90)), "LOST TO FOLLOW-UP")
                if death is not None and death > contact:
                    death = known = None  # the site never learns of it
                break
        if death is not None:
            ss.append(("DEAD", known))
    if death is not None:
        eos = (death, "DEATH")
        # Nothing happens after death: an AE still open then stays without an end date.
        aes = [ae for ae in aes if ae.start < death or ae.fatal_on is not None]
        for ae in aes:
            if ae.fatal_on is None and ae.end is not None and ae.end >= death:
                ae.end = None

    # Scans stop at death or loss to follow-up (they were planned before either was known).
    data_end = min((d for d in (death, eos[0] if eos and eos[1] == "LOST TO FOLLOW-UP" else None) if d), default=None)
    if data_end is not None:
        course.assessments = [a for a in course.assessments if a.date < data_end]
        if course.pd_date is not None and course.pd_date >= data_end:
            course.pd_date = None

    records: list[Record] = []
    dm = Record(
        "DM",
        {
            "STUDYID": plan.studyid,
            "SITEID": plan.siteid,
            "SUBJID": plan.subjid,
            "USUBJID": u,
            "RFICDTC": iso(rfic),
            "ENRLDTC": iso(enrl),
            "BRTHDTC": f"{birth:%Y-%m}",
            "AGE": str(age_at_consent),
            "SEX": pick(rng, {"M": 85, "F": 15}),
            "RACE": "ASIAN",
            "ETHNIC": "NOT HISPANIC OR LATINO",
            "COUNTRY": plan.country,
            "ARMCD": study.armcd,
            "ARM": study.arm,
            "DTHDTC": "",
            "DTHFL": "",
        },
        enrl,
    )
    if death is not None:
        dm.updates.append((known, {"DTHDTC": iso(death), "DTHFL": "Y"}))
    records.append(dm)
    for code, value in sc.items():
        records.append(
            Record(
                "SC",
                {"USUBJID": u, "SCTESTCD": code, "SCTEST": cat.SC_TESTS[code], "SCORRES": value, "SCDTC": iso(scan)},
                scan,
            )
        )
    if trtsdt is not None:
        records += exposure_records(u, study, trtsdt, stop, aes, horizon, rng)
        records += ae_records(u, aes)
    records += _tumour_records(u, course)
    records += _lab_records(rng, u, course)
    if eot_date is not None:
        records.append(
            Record(
                "DS",
                {
                    "USUBJID": u,
                    "DSCAT": "DISPOSITION EVENT",
                    "DSSCAT": "END OF TREATMENT",
                    "DSDECOD": eot_reason,
                    "DSSTDTC": iso(eot_date),
                },
                known if eot_reason == "DEATH" else eot_date,
            )
        )
    if eos is not None:
        records.append(
            Record(
                "DS",
                {
                    "USUBJID": u,
                    "DSCAT": "DISPOSITION EVENT",
                    "DSSCAT": "END OF STUDY",
                    "DSDECOD": eos[1],
                    "DSSTDTC": iso(eos[0]),
                },
                known if eos[1] == "DEATH" else eos[0],
            )
        )
    for status, day in ss:
        records.append(Record("SS", {"USUBJID": u, "SSTESTCD": "SURVSTAT", "SSSTRESC": status, "SSDTC": iso(day)}, day))
    if study.single_cell and trtsdt is not None:
        # The baseline biopsy is taken at the pre-dose visit, which a never-dosed subject did not attend.
        from trialdw.synth.singlecell import biopsy_records

        last_on_treatment = min(d for d in (stop, death, horizon) if d is not None)
        records += biopsy_records(
            rng, u, plan.siteid, plan.subjid, gf_background or {}, rfic, trtsdt, last_on_treatment, horizon
        )
    for record in records:
        # Screening data reach the EDC with the enrolment (no rows before the DM row).
        record.visible_from = max(record.visible_from, enrl)
    return records
