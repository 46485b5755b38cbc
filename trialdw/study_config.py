"""Study configuration: the protocol parameters the specs mark ⚙.

One YAML file per study in ``studies/``. The flow writes them into the
warehouse as ``config.studies`` / ``config.study_treatments`` so that dbt models
read protocol rules as data (a third study needs a file, not code).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from trialdw.project import ALL_DOMAINS, PROJECT_ROOT, read_yaml

DEFAULT_STUDIES_DIR = PROJECT_ROOT / "studies"
REFERENCE_DATES = ("TRTSDT", "ENRLDT")
EVALUATORS = ("INVESTIGATOR", "INDEPENDENT ASSESSOR")


class ConfigError(ValueError):
    """A configuration file (study file, sources file) that cannot be used; the
    message names the file and the key."""


@dataclass(frozen=True)
class Treatment:
    extrt: str
    dose: float | None
    dosu: str
    dosfrq: str
    route: str
    schedule: str | None = None
    placebo: bool = False  # a placebo's EXDOSE is 0 (SDTM), not a finding


@dataclass(frozen=True)
class Arm:
    armcd: str
    arm: str
    reference: bool = False  # the control arm comparisons are made against (see reference_arm)


@dataclass(frozen=True)
class CrMarker:
    lbtestcd: str
    window_days: int


@dataclass(frozen=True)
class StudyConfig:
    study: str
    title: str
    arms: tuple[Arm, ...]
    treatments: tuple[Treatment, ...]
    domains: tuple[str, ...]
    assessment_interval_days: int
    evaluator: str
    reference_date: str
    confirmation_days: int
    sd_minimum_days: int
    cr_marker: CrMarker | None
    data_cutoff: dt.date | None
    source_file: Path | None = field(default=None, compare=False)

    @property
    def armcd(self) -> str:
        """The first (for a single-arm study: the) arm."""
        return self.arms[0].armcd

    @property
    def arm(self) -> str:
        return self.arms[0].arm

    @property
    def reference_arm(self) -> Arm:
        """The arm every other arm is compared with (hazard ratio, difference in
        proportions): the arm marked ``reference: true``, else the first listed."""
        return next((a for a in self.arms if a.reference), self.arms[0])

    @property
    def placebo_names(self) -> tuple[str, ...]:
        return tuple(t.extrt for t in self.treatments if t.placebo)

    @property
    def treatment_names(self) -> tuple[str, ...]:
        return tuple(t.extrt for t in self.treatments)

    @property
    def single_cell(self) -> bool:
        return "CP" in self.domains


# Every key a study file may hold, by section: anything else is refused, so a
# misspelt ``cr_marker`` cannot switch a protocol rule off without a word.
STUDY_KEYS = frozenset({"study", "title", "arm", "arms", "treatments", "domains", "visits", "response", "data_cutoff"})
ARM_KEYS = frozenset({"armcd", "arm", "reference"})
TREATMENT_KEYS = frozenset({"extrt", "dose", "dosu", "dosfrq", "route", "schedule", "placebo"})
VISITS_KEYS = frozenset({"assessment_interval_days"})
RESPONSE_KEYS = frozenset({"evaluator", "reference_date", "confirmation_days", "sd_minimum_days", "cr_marker"})
CR_MARKER_KEYS = frozenset({"lbtestcd", "window_days"})
# STUDYID names folders (landing, exports): letters, digits, '.', '_', '-'.
STUDYID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _require(doc: dict, key: str, where: str):
    if key not in doc or doc[key] is None:
        raise ConfigError(f"{where}: missing required key '{key}'")
    return doc[key]


def strict_mapping(doc, where: str, known: frozenset[str]) -> dict:
    """``doc`` as a mapping holding only ``known`` keys; the first stranger is named
    (with a did-you-mean). Shared by every configuration file people edit."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a mapping of keys, got {type(doc).__name__}")
    for key in doc:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(sorted(known))})"
            raise ConfigError(f"{where}: unknown key '{key}'{hint}")
    return doc


def parse_study(doc: dict, where: str = "<study>") -> StudyConfig:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: not a YAML mapping")
    strict_mapping(doc, where, STUDY_KEYS)
    study = str(_require(doc, "study", where))
    if not STUDYID_RE.match(study):
        raise ConfigError(f"{where}: study {study!r} must be letters, digits, '.', '_' or '-' (it names folders)")
    if ("arm" in doc) == ("arms" in doc):
        raise ConfigError(f"{where}: give either 'arm' (single-arm study) or 'arms' (a list), not both or neither")
    arm_docs = doc["arms"] if "arms" in doc else [doc["arm"]]
    if not isinstance(arm_docs, list) or not arm_docs:
        raise ConfigError(f"{where}: 'arms' must be a non-empty list")
    arm_docs = [strict_mapping(a, f"{where}: arms", ARM_KEYS) for a in arm_docs]
    arms = tuple(
        Arm(
            armcd=str(_require(a, "armcd", f"{where}: arms")),
            arm=str(_require(a, "arm", f"{where}: arms")),
            reference=a.get("reference", False) is True,
        )
        for a in arm_docs
    )
    if any(not isinstance(a.get("reference", False), bool) for a in arm_docs):
        raise ConfigError(f"{where}: arms: 'reference' must be true or false")
    if sum(a.reference for a in arms) > 1:
        raise ConfigError(f"{where}: arms: at most one arm may be the reference (reference: true)")
    if len({a.armcd for a in arms}) != len(arms):
        raise ConfigError(f"{where}: arms: every armcd must be different")
    response = strict_mapping(_require(doc, "response", where), f"{where}: response", RESPONSE_KEYS)
    visits = strict_mapping(_require(doc, "visits", where), f"{where}: visits", VISITS_KEYS)
    treatment_docs = [
        strict_mapping(t, f"{where}: treatments", TREATMENT_KEYS) for t in _require(doc, "treatments", where)
    ]
    treatments = tuple(
        Treatment(
            extrt=str(_require(t, "extrt", f"{where}: treatments")),
            dose=float(t["dose"]) if t.get("dose") is not None else None,
            dosu=str(t.get("dosu", "mg")),
            dosfrq=str(_require(t, "dosfrq", f"{where}: treatments")),
            route=str(_require(t, "route", f"{where}: treatments")),
            schedule=t.get("schedule"),
            placebo=bool(t.get("placebo", False)),
        )
        for t in treatment_docs
    )
    if not treatments:
        raise ConfigError(f"{where}: 'treatments' is empty")
    domains = tuple(_require(doc, "domains", where))
    unknown = sorted(set(domains) - set(ALL_DOMAINS))
    if unknown or "DM" not in domains:
        raise ConfigError(f"{where}: domains must include DM and be among {ALL_DOMAINS}; got {unknown or domains}")
    reference = str(response.get("reference_date", "TRTSDT"))
    if reference not in REFERENCE_DATES:
        raise ConfigError(f"{where}: response.reference_date must be one of {REFERENCE_DATES}")
    evaluator = str(response.get("evaluator", "INVESTIGATOR"))
    if evaluator not in EVALUATORS:
        raise ConfigError(f"{where}: response.evaluator must be one of {EVALUATORS}")
    marker = response.get("cr_marker")
    if marker is not None:
        marker = strict_mapping(marker, f"{where}: response.cr_marker", CR_MARKER_KEYS)
    cutoff = doc.get("data_cutoff")
    if isinstance(cutoff, str):
        try:
            cutoff = dt.date.fromisoformat(cutoff)
        except ValueError:
            raise ConfigError(f"{where}: data_cutoff {cutoff!r} is not an ISO date YYYY-MM-DD") from None
    elif cutoff is not None and not isinstance(cutoff, dt.date):
        raise ConfigError(f"{where}: data_cutoff must be an ISO date YYYY-MM-DD or null")
    return StudyConfig(
        study=study,
        title=str(doc.get("title", "")),
        arms=arms,
        treatments=treatments,
        domains=domains,
        assessment_interval_days=int(_require(visits, "assessment_interval_days", f"{where}: visits")),
        evaluator=evaluator,
        reference_date=reference,
        confirmation_days=int(_require(response, "confirmation_days", f"{where}: response")),
        sd_minimum_days=int(_require(response, "sd_minimum_days", f"{where}: response")),
        cr_marker=CrMarker(
            str(_require(marker, "lbtestcd", f"{where}: response.cr_marker")), int(marker.get("window_days", 14))
        )
        if marker
        else None,
        data_cutoff=cutoff,
    )


def load_study(path: Path) -> StudyConfig:
    path = Path(path)
    doc = read_yaml(path, ConfigError, "study file")
    cfg = parse_study(doc, str(path))
    return StudyConfig(**{**cfg.__dict__, "source_file": path})


def load_studies(studies_dir: Path | None = None) -> dict[str, StudyConfig]:
    """All study files in a folder, keyed by STUDYID."""
    folder = Path(studies_dir or DEFAULT_STUDIES_DIR)
    studies: dict[str, StudyConfig] = {}
    for path in sorted(folder.glob("*.yml")):
        cfg = load_study(path)
        if cfg.study in studies:
            raise ConfigError(f"{path}: study {cfg.study} is configured twice")
        studies[cfg.study] = cfg
    if not studies:
        raise ConfigError(f"{folder}: no study files (*.yml)")
    return studies


def write_config_tables(con, studies: dict[str, StudyConfig]) -> None:
    """(Re)write config.studies, config.study_arms and config.study_treatments for dbt."""
    con.execute("CREATE SCHEMA IF NOT EXISTS config")
    con.execute(
        """CREATE OR REPLACE TABLE config.studies (
            STUDYID VARCHAR PRIMARY KEY, TITLE VARCHAR,
            ASSESS_INTERVAL_DAYS INTEGER, RSEVAL VARCHAR, REF_DATE VARCHAR,
            CONFIRM_DAYS INTEGER, SD_MIN_DAYS INTEGER,
            CR_MARKER_LBTESTCD VARCHAR, CR_MARKER_WINDOW_DAYS INTEGER,
            DATA_CUTOFF DATE, SINGLE_CELL BOOLEAN)"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE config.study_arms (
            STUDYID VARCHAR, ARMCD VARCHAR, ARM VARCHAR, ARMN INTEGER, REFERENCE BOOLEAN,
            PRIMARY KEY (STUDYID, ARMCD))"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE config.study_treatments (
            STUDYID VARCHAR, EXTRT VARCHAR, EXDOSE DOUBLE, EXDOSU VARCHAR,
            EXDOSFRQ VARCHAR, EXROUTE VARCHAR, PLACEBO BOOLEAN, PRIMARY KEY (STUDYID, EXTRT))"""
    )
    for s in studies.values():
        con.execute(
            "INSERT INTO config.studies VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                s.study,
                s.title,
                s.assessment_interval_days,
                s.evaluator,
                s.reference_date,
                s.confirmation_days,
                s.sd_minimum_days,
                s.cr_marker.lbtestcd if s.cr_marker else None,
                s.cr_marker.window_days if s.cr_marker else None,
                s.data_cutoff,
                s.single_cell,
            ],
        )
        # ARMN: the arm's position in the study file (TRT01PN); REFERENCE: the control arm.
        for n, a in enumerate(s.arms, start=1):
            con.execute(
                "INSERT INTO config.study_arms VALUES (?,?,?,?,?)",
                [s.study, a.armcd, a.arm, n, a == s.reference_arm],
            )
        for t in s.treatments:
            con.execute(
                "INSERT INTO config.study_treatments VALUES (?,?,?,?,?,?,?)",
                [s.study, t.extrt, t.dose, t.dosu, t.dosfrq, t.route, t.placebo],
            )
