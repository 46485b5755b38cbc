"""``generate``: write a landing folder of demo site exports for the configured studies.

Streaming: one subject is simulated at a time and its rows go straight to the
open CSV writers of every transfer of its site (one writer per transfer ×
domain), so memory does not grow with the number of subjects.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trialdw.study_config import StudyConfig
from trialdw.synth import layout
from trialdw.synth.csvout import TrackedCsvWriter, write_manifest
from trialdw.synth.defects import Defect, DefectInjector
from trialdw.synth.subject import COURSES, SubjectPlan, simulate_subject

FIRST_SITE_NUMBER = 101
OTHER_SITE_COUNTRIES = {"CHN": 6, "KOR": 1, "SGP": 1, "TWN": 1}


@dataclass(frozen=True)
class TransferSummary:
    study: str
    site: str
    transfer_id: str
    path: Path
    files: dict[str, tuple[str, int]]  # file name -> (sha256, rows)
    subjects: int


@dataclass
class SynthSummary:
    out: Path
    seed: int
    transfers: list[TransferSummary] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"landing folder {self.out} (seed {self.seed})"]
        for t in self.transfers:
            rows = sum(r for _, r in t.files.values())
            lines.append(
                f"  {t.study}/{t.site}/{t.transfer_id}: {t.subjects} subjects, {len(t.files)} files, {rows} rows"
            )
        if self.defects:
            lines.append(f"deliberate defects ({len(self.defects)} rows; see docs/synth.md):")
            lines += [
                f"  {d.file}:{d.line} {d.column}: {d.description}"
                + (f" [data review: {d.rule}]" if d.category == "review" else "")
                for d in self.defects
            ]
        else:
            lines.append("no deliberate defects (clean landing)")
        return "\n".join(lines)


def site_roster(seed: int, study: StudyConfig, siteid: str, site_index: int, subjects: int) -> list[SubjectPlan]:
    """Who is enrolled at a site, when, and on which course (cheap; decided before simulating)."""
    rng = random.Random(f"{seed}|{study.study}|{siteid}|roster")
    courses: list[str] = []
    while len(courses) < subjects:
        deck = list(COURSES)
        rng.shuffle(deck)  # every course appears once per round of len(COURSES) subjects
        courses += deck
    # A subject or two who never get a dose, in sites big enough to show it.
    never_dosed = set(rng.sample(range(1, subjects), (subjects >= 12) + (subjects >= 40))) if subjects > 1 else set()
    country = (
        "CHN"
        if site_index == 0
        else rng.choices(list(OTHER_SITE_COUNTRIES), weights=list(OTHER_SITE_COUNTRIES.values()))[0]
    )
    opened = layout.STUDY_START + dt.timedelta(days=14 * site_index)  # later sites open a little later
    return [
        SubjectPlan(
            studyid=study.study,
            siteid=siteid,
            subjid=f"{i + 1:04d}",
            course=courses[i],
            never_dosed=i in never_dosed,
            country=country,
            enrolled=opened + dt.timedelta(days=i * layout.ENROLMENT_DAYS // subjects + rng.randint(0, 6)),
        )
        for i in range(subjects)
    ]


def _prepare_folder(folder: Path, file_names: set[str]) -> None:
    """Create the transfer folder, replacing only files this generator writes."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.json"
    if manifest.exists():
        manifest.unlink()  # first, so an interrupted rewrite leaves an incomplete transfer
    for entry in folder.iterdir():
        if entry.name in file_names or entry.name == ".manifest.json.part":
            entry.unlink()
        else:
            raise FileExistsError(f"{entry} was not written by the generator; refusing to mix it into a transfer")


def _write_site(
    out: Path,
    seed: int,
    study: StudyConfig,
    siteid: str,
    roster: list[SubjectPlan],
    cuts: list[dt.date],
    injector: DefectInjector | None,
    defects: list[Defect],
    gf_background: dict | None,
) -> list[TransferSummary]:
    domains = [d for d in study.domains if d in layout.DOMAIN_COLUMNS]
    file_names = {f"{d}.csv" for d in domains}
    folders = [out / study.study / siteid / layout.transfer_id(cut) for cut in cuts]
    writers: list[dict[str, TrackedCsvWriter]] = []
    for folder in folders:
        _prepare_folder(folder, file_names)
        writers.append({d: TrackedCsvWriter(folder / f"{d}.csv", layout.DOMAIN_COLUMNS[d]) for d in domains})
    subjects_in = [0] * len(cuts)
    try:
        for plan in roster:
            records = [r for r in simulate_subject(plan, study, seed, cuts[-1], gf_background) if r.domain in domains]
            if injector is not None:
                injector.claim(plan.usubjid, records)
            for t, cut in enumerate(cuts):
                subjects_in[t] += plan.enrolled < cut
                for record in records:
                    row = record.as_of(cut)
                    if row is None:
                        continue
                    rendered = injector.render(t, record, row) if injector is not None else [(row, None)]
                    for out_row, claim in rendered:
                        line = writers[t][record.domain].write(out_row)
                        if claim is not None:
                            rel = f"{study.study}/{siteid}/{layout.transfer_id(cut)}/{record.domain}.csv"
                            defects.append(claim.defect(rel, line, plan.usubjid))
    finally:
        closed = [{f"{d}.csv": w.close() for d, w in ws.items()} for ws in writers]
    summaries = []
    for folder, cut, files, n in zip(folders, cuts, closed, subjects_in, strict=False):
        tid = layout.transfer_id(cut)
        write_manifest(folder, study.study, siteid, tid, layout.exported_at(cut), files)
        summaries.append(TransferSummary(study.study, siteid, tid, folder, files, n))
    return summaries


def generate(
    out: Path,
    seed: int = 20261121,
    subjects: int = 24,
    sites: int = 1,
    studies: dict[str, StudyConfig] | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    transfers: int = 2,
    defects: bool = True,
) -> SynthSummary:
    """Write ``<out>/<STUDYID>/<SITEID>/<TRANSFER_ID>/`` for every study and site.

    ``subjects`` is per study *and site* (site numbers 101, 102, …); ``transfers``
    cumulative snapshots per site, the latest cut on 2026-11-19. Same arguments,
    same bytes. ``defects=False`` writes a clean landing.
    """
    if subjects < 1 or sites < 1:
        raise ValueError("subjects and sites must be >= 1")
    if studies is None:
        from trialdw.study_config import load_studies

        studies = load_studies()
    out = Path(out)
    cuts = layout.transfer_cuts(transfers)
    summary = SynthSummary(out=out, seed=seed)
    for studyid in sorted(studies):
        study = studies[studyid]
        gf_background = None
        if study.single_cell:
            from trialdw.synth.singlecell import background_expression

            gf_background = background_expression(seed, study.study)
        for site_index in range(sites):
            siteid = str(FIRST_SITE_NUMBER + site_index)
            roster = site_roster(seed, study, siteid, site_index, subjects)
            injector = None
            if defects and site_index == 0:
                # The invalid-SEX defect orphans the subject's rows: put it on a subject with few.
                chosen = next((p for p in roster if p.never_dosed), roster[0]).usubjid
                injector = DefectInjector(cuts, chosen, study=study.study)
            written = _write_site(out, seed, study, siteid, roster, cuts, injector, summary.defects, gf_background)
            summary.transfers += written
            if progress is not None:
                for t in written:
                    progress(
                        f"{t.study} site {t.site} transfer {t.transfer_id}: {t.subjects} subjects, "
                        f"{sum(r for _, r in t.files.values())} rows"
                    )
    summary.defects.sort(key=lambda d: (d.file, d.line))
    return summary
