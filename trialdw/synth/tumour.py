"""Tumour course: baseline lesions, scans every assessment interval, RECIST reads.

Each course name is an *intent*; the RS rows are read from the generated
diameters (``recist.timepoint``), so RS and TR agree even where noise changes
the intent.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from trialdw.study_config import StudyConfig
from trialdw.synth import catalogues as cat
from trialdw.synth.draws import pick, uniform
from trialdw.synth.recist import Timepoint, timepoint

# Response courses. Each name is an *intent*; the RS rows are read from the
# generated diameters, so RS and TR agree even where noise changes the intent.
# One "deck" of courses is dealt per round of len(COURSES) subjects: a site with
# 16 subjects shows every course; about a third of a deck responds (confirmed
# CR/PR), a little above the 20-30 % ORR reported for these regimens, so the
# demo has responders to show.
COURSES = (
    "confirmed_pr",
    "confirmed_cr",
    "cr_high_afp",
    "sd",
    "early_pd",
    "pr_then_pd",
    "unconfirmed_pr",
    "death_without_pd",
    "nontarget_only",
    "sd",
    "confirmed_pr",
    "early_pd",
    "sd",
    "early_pd",
    "sd",
    "pr_then_pd",
)


@dataclass
class Step:
    kind: str  # ratio / cr / pd
    ratio: float = 1.0
    pd_mode: str = "growth"  # growth / new / nt
    missing: bool = False  # one target lesion not measured -> NE


@dataclass
class Lesion:
    lnkid: str
    loc: str
    base_mm: int = 0
    nodal: bool = False


@dataclass
class Assessment:
    visitnum: int
    visit: str
    date: dt.date
    sizes: dict[str, int | None]
    nt_states: dict[str, str]
    new_lesion: Lesion | None
    response: Timepoint
    afp: float


@dataclass
class Course:
    method: str
    scan_date: dt.date
    targets: list[Lesion]
    nontargets: list[Lesion]
    baseline_afp: float
    assessments: list[Assessment] = field(default_factory=list)
    pd_date: dt.date | None = None
    death: dt.date | None = None  # only deaths the course itself causes


def _baseline_lesions(rng: random.Random, nontarget_only: bool) -> tuple[list[Lesion], list[Lesion]]:
    targets: list[Lesion] = []
    if not nontarget_only:
        wanted = pick(rng, {1: 20, 2: 30, 3: 25, 4: 15, 5: 10})
        per_organ: dict[str, int] = {}
        sites = {loc: (w, size) for loc, w, size in cat.TARGET_SITES}
        while len(targets) < wanted:
            loc = "LIVER" if not targets else pick(rng, {k: v[0] for k, v in sites.items() if per_organ.get(k, 0) < 2})
            per_organ[loc] = per_organ.get(loc, 0) + 1
            lo, hi = sites[loc][1]
            targets.append(Lesion(f"T{len(targets) + 1:02d}", loc, rng.randint(lo, hi), loc == "LYMPH NODE"))
            if all(per_organ.get(k, 0) >= 2 for k in sites):
                break
    n_nt = rng.randint(1, 3) if nontarget_only else pick(rng, {0: 35, 1: 40, 2: 25})
    nontargets = [Lesion(f"NT{i + 1:02d}", pick(rng, dict(cat.NONTARGET_SITES))) for i in range(n_nt)]
    return targets, nontargets


def _course_steps(rng: random.Random, course: str) -> tuple[list[Step], bool]:
    """Planned steps per assessment, and whether the last stable step repeats to the cut."""
    pd_mode = pick(rng, {"growth": 5, "new": 4, "nt": 1})
    if course == "confirmed_pr":
        hold = [Step("ratio", uniform(rng, 0.45, 0.62)) for _ in range(rng.randint(2, 7))]
        steps = [Step("ratio", uniform(rng, 0.75, 0.88)), Step("ratio", uniform(rng, 0.5, 0.64)), *hold]
        return ([*steps, Step("pd", pd_mode=pd_mode)], False) if rng.random() < 0.6 else (steps, True)
    if course in ("confirmed_cr", "cr_high_afp"):
        steps = [Step("ratio", uniform(rng, 0.55, 0.68)), Step("ratio", uniform(rng, 0.25, 0.40))]
        steps += [Step("cr") for _ in range(rng.randint(3, 8))]
        return ([*steps, Step("pd", pd_mode="new")], False) if rng.random() < 0.3 else (steps, True)
    if course == "sd":
        steps = [Step("ratio", uniform(rng, 0.85, 1.08)) for _ in range(rng.randint(2, 6))]
        return ([*steps, Step("pd", pd_mode=pd_mode)], False) if rng.random() < 0.75 else (steps, True)
    if course == "early_pd":
        return [Step("pd", pd_mode=pd_mode)], False
    if course == "pr_then_pd":
        nadir = uniform(rng, 0.50, 0.62)
        return [Step("ratio", 0.8), Step("ratio", nadir), Step("ratio", nadir + 0.03), Step("pd", pd_mode="new")], False
    if course == "unconfirmed_pr":
        first = uniform(rng, 0.62, 0.66)  # PR, then SD (< 20 % above the nadir): not confirmed
        return [
            Step("ratio", first),
            Step("ratio", first + 0.08),
            Step("ratio", first + 0.10),
            Step("pd", pd_mode=pd_mode),
        ], False
    if course == "death_without_pd":
        return [Step("ratio", uniform(rng, 0.85, 1.05)) for _ in range(rng.randint(1, 3))], False
    if course == "nontarget_only":
        steps = [Step("ratio") for _ in range(rng.randint(2, 6))]
        return (
            ([*steps, Step("pd", pd_mode=pick(rng, {"new": 1, "nt": 1}))], False)
            if rng.random() < 0.6
            else (steps, True)
        )
    raise ValueError(f"unknown course {course!r}")


def _sizes_for(step: Step, targets: list[Lesion], nadir_ratio: float, rng: random.Random) -> dict[str, int | None]:
    sizes: dict[str, int | None] = {}
    for lesion in targets:
        if step.kind == "cr":
            sizes[lesion.lnkid] = rng.randint(5, 9) if lesion.nodal else 0
            continue
        ratio = step.ratio if step.kind == "ratio" else nadir_ratio * uniform(rng, 1.3, 1.6)
        if step.kind == "pd" and step.pd_mode != "growth":
            ratio = nadir_ratio * uniform(rng, 0.98, 1.08)
        size = round(lesion.base_mm * ratio * uniform(rng, 0.95, 1.05))
        sizes[lesion.lnkid] = max(size, 1)  # an exact 0 is reserved for "disappeared" (CR steps)
    if step.missing and len(targets) > 1:
        sizes[targets[-1].lnkid] = None
    return sizes


def simulate_tumour(
    rng: random.Random,
    course_name: str,
    study: StudyConfig,
    scan_date: dt.date,
    trtsdt: dt.date | None,
    horizon: dt.date,
) -> Course:
    targets, nontargets = _baseline_lesions(rng, course_name == "nontarget_only")
    afp_median = {"confirmed_cr": 900.0, "cr_high_afp": 2500.0}.get(course_name, 150.0)
    baseline_afp = min(max(math.exp(rng.gauss(math.log(afp_median), 1.2 if afp_median > 150 else 1.8)), 1.5), 60000.0)
    if course_name in ("confirmed_cr", "cr_high_afp"):
        baseline_afp = max(baseline_afp, 220.0)  # normalisation only means something from a high value
    course = Course(
        method="MRI" if rng.random() < 0.4 else "CT",
        scan_date=scan_date,
        targets=targets,
        nontargets=nontargets,
        baseline_afp=baseline_afp,
    )
    if trtsdt is None:
        return course

    steps, repeat_last = _course_steps(rng, course_name)
    if len(steps) >= 3 and rng.random() < 0.2 and len(targets) > 1:
        steps[rng.randint(1, len(steps) - 2)].missing = True  # one incomplete scan -> NE
    baseline_sod = sum(t.base_mm for t in targets)
    nadir_sod, nadir_ratio, afp = baseline_sod, 1.0, baseline_afp
    interval = study.assessment_interval_days
    k = 0
    while True:
        k += 1
        if k <= len(steps):
            step = steps[k - 1]
        elif repeat_last:
            step = Step(steps[-1].kind, steps[-1].ratio * uniform(rng, 0.97, 1.03))
        else:
            break
        day = trtsdt + dt.timedelta(days=k * interval + rng.randint(-3, 3))
        if day >= horizon:
            break
        sizes = _sizes_for(step, targets, nadir_ratio, rng)
        nt_states = {n.lnkid: ("ABSENT" if step.kind == "cr" else "PRESENT") for n in nontargets}
        new_lesion = None
        if step.kind == "pd" and step.pd_mode == "nt" and nontargets:
            nt_states[nontargets[0].lnkid] = "UNEQUIVOCAL PROGRESSION"
        elif step.kind == "pd" and step.pd_mode in ("new", "nt"):
            new_lesion = Lesion("NEW01", pick(rng, dict(cat.NEW_LESION_SITES)))
        nodal = {t.lnkid: t.nodal for t in targets}
        response = timepoint(sizes, nodal, baseline_sod, nadir_sod, list(nt_states.values()), new_lesion is not None)
        if step.kind == "pd" and response.ovrlresp != "PD":
            # Growth too small in absolute mm (a small nadir): progression shows as a new lesion.
            new_lesion = Lesion("NEW01", pick(rng, dict(cat.NEW_LESION_SITES)))
            response = timepoint(sizes, nodal, baseline_sod, nadir_sod, list(nt_states.values()), True)
        if response.trgresp not in (None, "NE"):
            sod = sum(v for v in sizes.values() if v is not None)
            if sod < nadir_sod:
                nadir_sod = sod
            nadir_ratio = min(nadir_ratio, {"ratio": step.ratio, "cr": 0.0}.get(step.kind, nadir_ratio))
        afp = _afp_at(rng, course_name, step, response, baseline_afp, afp)
        course.assessments.append(
            Assessment(k, f"WEEK {k * interval // 7}", day, sizes, nt_states, new_lesion, response, afp)
        )
        if response.ovrlresp == "PD":
            course.pd_date = day
            break
    if course_name == "death_without_pd" and course.pd_date is None and course.assessments:
        death = course.assessments[-1].date + dt.timedelta(days=rng.randint(10, max(11, interval - 7)))
        course.death = death if death < horizon else None
    return course


def _afp_at(
    rng: random.Random, course: str, step: Step, response: Timepoint, baseline: float, previous: float
) -> float:
    if response.ovrlresp == "PD":
        return previous * uniform(rng, 1.4, 3.0)
    if step.kind == "cr":
        return uniform(rng, 2.5, 15.0) if course != "cr_high_afp" else uniform(rng, 45.0, 300.0)
    return max(baseline * (step.ratio**1.6) * math.exp(rng.gauss(0, 0.15)), 0.8)
