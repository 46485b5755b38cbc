"""Treatment: adverse events and the exposure they shape (interruptions, reductions)."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from trialdw.study_config import StudyConfig
from trialdw.synth import catalogues as cat
from trialdw.synth.draws import pick
from trialdw.synth.records import Record, iso

DAY = dt.timedelta(days=1)


# --- adverse events -------------------------------------------------------------------


@dataclass
class AdverseEvent:
    term: cat.AeTerm
    verbatim: str
    start: dt.date
    end: dt.date | None
    grade: int
    serious: bool
    rel: str
    acn: str
    fatal_on: dt.date | None = None  # grade 5: set when the death becomes known
    start_precision: str = "D"  # D / M / Y: how much of the start date the site knows
    end_precision: str = "D"


def _ae_weight(term: cat.AeTerm, classes: set[str]) -> float:
    return sum(term.weight.get(c, 0) for c in classes | {"ANY"})


def simulate_aes(
    rng: random.Random, study: StudyConfig, trtsdt: dt.date, window_end: dt.date, horizon: dt.date
) -> list[AdverseEvent]:
    classes = {cat.DRUG_CLASS.get(t.extrt, "ANY") for t in study.treatments}
    weights = {t: _ae_weight(t, classes) for t in cat.AE_TERMS}
    weights = {t: w for t, w in weights.items() if w > 0}
    n = pick(rng, {0: 6, 1: 12, 2: 16, 3: 18, 4: 16, 5: 12, 6: 9, 7: 6, 8: 5})
    span = max((min(window_end, horizon) - trtsdt).days, 1)
    events = []
    for _ in range(n):
        term = pick(rng, weights)
        # Toxicities of targeted drugs come early: an exponential onset, cut at the window.
        start = trtsdt + dt.timedelta(days=min(int(rng.expovariate(1 / 40)) + 1, span - 1))
        if start >= horizon:
            continue
        grade = pick(rng, {1: 45, 2: 35, 3: 17, 4: 3})
        end = start + dt.timedelta(days=rng.randint(3, 20) * grade) if rng.random() > 0.15 else None
        serious = grade == 4 or (grade == 3 and rng.random() < 0.35) or rng.random() < 0.03
        rel = pick(rng, cat.RELATED_WEIGHTS if term.drug_related else cat.UNRELATED_WEIGHTS)
        acn = pick(
            rng,
            {
                1: {"DOSE NOT CHANGED": 1},
                2: {"DOSE NOT CHANGED": 70, "DRUG INTERRUPTED": 20, "DOSE REDUCED": 10},
                3: {"DRUG INTERRUPTED": 45, "DOSE REDUCED": 45, "DRUG WITHDRAWN": 10},
                4: {"DRUG WITHDRAWN": 45, "DRUG INTERRUPTED": 55},
            }[grade],
        )
        if rel == "NOT RELATED" and acn != "DOSE NOT CHANGED":
            acn = "DOSE NOT CHANGED" if grade < 3 else acn
        start_precision = pick(rng, {"D": 93, "M": 6, "Y": 1})
        end_precision = pick(rng, {"D": 95, "M": 5})
        events.append(
            AdverseEvent(
                term,
                rng.choice(term.verbatims),
                start,
                end,
                grade,
                serious,
                rel,
                acn,
                start_precision=start_precision,
                end_precision=end_precision,
            )
        )
    return events


def fatal_ae(rng: random.Random, death: dt.date, known: dt.date) -> AdverseEvent:
    term = rng.choice(cat.FATAL_AE_TERMS)
    start = death - dt.timedelta(days=rng.randint(1, 8))
    # Entered at onset as a grade 4 SAE, upgraded to grade 5 when the death is known.
    return AdverseEvent(
        term, rng.choice(term.verbatims), start, death, 4, True, "UNLIKELY RELATED", "NOT APPLICABLE", fatal_on=known
    )


def _partial(day: dt.date, precision: str) -> str:
    return {"D": day.isoformat(), "M": f"{day:%Y-%m}", "Y": f"{day:%Y}"}[precision]


def ae_records(usubjid: str, events: list[AdverseEvent]) -> list[Record]:
    records = []
    for seq, ae in enumerate(sorted(events, key=lambda e: (e.start, e.term.decod)), start=1):
        ongoing_out = "RECOVERING/RESOLVING" if ae.grade <= 2 else "NOT RECOVERED/NOT RESOLVED"
        row = {
            "USUBJID": usubjid,
            "AESEQ": str(seq),
            "AETERM": ae.verbatim,
            "AEDECOD": ae.term.decod,
            "AEBODSYS": ae.term.bodsys,
            "AESTDTC": _partial(ae.start, ae.start_precision),
            "AEENDTC": "",
            "AETOXGR": str(ae.grade),
            "AESER": "Y" if ae.serious else "N",
            "AEREL": ae.rel,
            "AEACN": ae.acn,
            "AEOUT": ongoing_out,
        }
        record = Record("AE", row, ae.start)
        if ae.fatal_on is not None:
            record.updates.append((ae.fatal_on, {"AETOXGR": "5", "AEENDTC": iso(ae.end), "AEOUT": "FATAL"}))
        elif ae.end is not None:
            precision = ae.end_precision
            outcome = "RECOVERED/RESOLVED" if ae.grade < 3 or seq % 5 else "RECOVERED/RESOLVED WITH SEQUELAE"
            record.updates.append((ae.end, {"AEENDTC": _partial(ae.end, precision), "AEOUT": outcome}))
        records.append(record)
    return records


# --- exposure -----------------------------------------------------------------------


def _reduced(dose: float) -> float:
    """One dose level down (-25 %, to whole capsules): 300 -> 250 mg, 80 -> 60 mg."""
    unit = 50 if dose >= 200 else 10
    return max(math.ceil(dose * 0.75 / unit) * unit, unit)


def _fmt_dose(dose: float) -> str:
    return f"{dose:g}"


def exposure_records(
    usubjid: str,
    study: StudyConfig,
    trtsdt: dt.date,
    stop: dt.date | None,
    aes: list[AdverseEvent],
    horizon: dt.date,
    rng: random.Random,
) -> list[Record]:
    """Oral drugs: one row per cycle's dosing run (split at interruptions and
    dose reductions). Infusions: one row per infusion. ``stop`` None = still
    on treatment at the cut: the current period's EXENDTC is still empty."""
    last_day = stop or horizon
    interruptions = []
    reductions = []
    for ae in aes:
        if ae.start <= last_day and ae.fatal_on is None:
            if ae.acn == "DRUG INTERRUPTED":
                interruptions.append((ae.start, ae.start + dt.timedelta(days=rng.randint(5, 14))))
            elif ae.acn == "DOSE REDUCED":
                reductions.append(ae.start)
    periods: list[tuple[dt.date, int, dict]] = []  # (start, treatment order, row)
    for order, t in enumerate(study.treatments):
        if t.dose is None:
            raise ValueError(f"{study.study}: treatment {t.extrt} has no dose; the generator needs one")
        base = {"USUBJID": usubjid, "EXTRT": t.extrt, "EXDOSU": t.dosu, "EXDOSFRQ": t.dosfrq, "EXROUTE": t.route}
        if t.dosfrq in cat.INFUSION_INTERVAL_DAYS:
            step = cat.INFUSION_INTERVAL_DAYS[t.dosfrq]
            day = trtsdt
            while day <= last_day and day < horizon:
                skipped = any(a <= day <= b for a, b in interruptions)
                if not skipped:
                    periods.append(
                        (day, order, {**base, "EXDOSE": _fmt_dose(t.dose), "EXSTDTC": iso(day), "_end": day})
                    )
                day += dt.timedelta(days=step)
            continue
        on_days = cat.days_on_per_cycle(t.schedule)
        cycle = trtsdt
        while cycle <= last_day and cycle < horizon:
            run_start, run_dose = None, None
            for offset in range(on_days):
                day = cycle + dt.timedelta(days=offset)
                dose = t.dose
                for _ in (r for r in reductions if r <= day):
                    dose = _reduced(dose)
                # Still on treatment at the cut: the running period has no known end yet.
                dosing = (stop is None or day <= stop) and not any(a <= day <= b for a, b in interruptions)
                if run_start is not None and (not dosing or dose != run_dose):
                    periods.append(
                        (
                            run_start,
                            order,
                            {**base, "EXDOSE": _fmt_dose(run_dose), "EXSTDTC": iso(run_start), "_end": day - DAY},
                        )
                    )
                    run_start = None
                if dosing and run_start is None and day < horizon:
                    run_start, run_dose = day, dose
            if run_start is not None:
                periods.append(
                    (
                        run_start,
                        order,
                        {
                            **base,
                            "EXDOSE": _fmt_dose(run_dose),
                            "EXSTDTC": iso(run_start),
                            "_end": cycle + dt.timedelta(days=on_days - 1),
                        },
                    )
                )
            cycle += dt.timedelta(days=cat.CYCLE_DAYS)
    records = []
    for seq, (start, _, row) in enumerate(sorted(periods, key=lambda p: (p[0], p[1])), start=1):
        end = row.pop("_end")
        if stop is not None and end > stop:
            end = stop
        record = Record("EX", {**row, "EXSEQ": str(seq), "EXENDTC": ""}, start)
        record.updates.append((end, {"EXENDTC": iso(end)}))  # entered once the period is over
        records.append(record)
    return records
