"""Which studies a night must build: work proportional to change.

A study's published tables are a function of its inputs: the current accepted
transfer of each of its sites, its study file, and the code and contracts that
derive them. Each input is fingerprinted; a study is rebuilt only when one of
them differs from what its published tables were built from
(``audit.study_builds`` in the published file). Every other study is carried
over unchanged.

A study held back (its build failed its tests or readiness checks) is not
retried while its inputs stay the same: the same inputs would fail the same
way. It is retried as soon as anything it depends on changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from trialdw.project import PROJECT_ROOT

BUILD = "build"
CARRY = "carry"  # unchanged since its tables were published: carried over
HOLD = "hold"  # unchanged since an attempt that was held back: still held back

PUBLISHED = "published"
HELD_BACK = "held back"

# What derives a study's tables: a change in any of these rebuilds every study.
CODE_GLOBS = (
    "dbt_project.yml",
    "dbt_project/models/**/*.sql",
    "dbt_project/models/**/*.yml",
    "dbt_project/macros/**/*.sql",
    "dbt_project/tests/**/*.sql",
    "trialdw/**/*.py",
    "trialdw/**/*.sql",
    "data_contracts/*.yml",
)

STUDY_BUILDS_DDL = """
CREATE TABLE IF NOT EXISTS audit.study_builds (
    STUDYID               VARCHAR PRIMARY KEY,
    STATUS                VARCHAR,    -- published / held back
    REASON                VARCHAR,    -- why held back (NULL when published)
    PUBLISHED_RUN_ID      VARCHAR,    -- the run whose tables are published (NULL: never published)
    PUBLISHED_FINGERPRINT VARCHAR,    -- the inputs those tables were built from
    PUBLISHED_INPUTS      JSON,       -- those inputs: {transfers: {site: id}, config, code, readiness}
    ATTEMPT_RUN_ID        VARCHAR,    -- the last run that built the study
    ATTEMPT_FINGERPRINT   VARCHAR,
    ATTEMPT_INPUTS        JSON,
    HELD_BACK_SINCE       VARCHAR     -- run id of the first attempt held back in a row
)
"""


@dataclass(frozen=True)
class StudyInputs:
    """Everything a study's published tables derive from, fingerprinted."""

    study: str
    transfers: dict[str, str]  # site -> current TRANSFER_ID
    config: str  # fingerprint of the parsed study file
    code: str  # fingerprint of models, macros, contracts and the package
    readiness: str  # fingerprint of the readiness contract

    @property
    def fingerprint(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StudyBuildRecord:
    """A row of audit.study_builds."""

    study: str
    status: str
    reason: str | None = None
    published_run_id: str | None = None
    published_fingerprint: str | None = None
    published_inputs: dict | None = None
    attempt_run_id: str | None = None
    attempt_fingerprint: str | None = None
    attempt_inputs: dict | None = None
    held_back_since: str | None = None


@dataclass(frozen=True)
class StudyPlan:
    study: str
    action: str  # build / carry / hold
    inputs: StudyInputs
    previous: StudyBuildRecord | None
    why: str  # for the log: why built, or why not


def code_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """sha256 over every file that derives tables (paths and contents)."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in CODE_GLOBS for p in root.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def file_fingerprint(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def config_fingerprint(study) -> str:
    doc = {k: v for k, v in dataclasses.asdict(study).items() if k != "source_file"}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def current_transfers(history_con) -> dict[str, dict[str, str]]:
    """{study: {site: current TRANSFER_ID}} from the history store's audit.transfers."""
    out: dict[str, dict[str, str]] = {}
    for study, site, transfer in history_con.execute(
        "SELECT STUDYID, SITEID, TRANSFER_ID FROM audit.transfers WHERE CURRENT = 'Y' ORDER BY 1, 2"
    ).fetchall():
        out.setdefault(study, {})[site] = transfer
    return out


def read_study_builds(published: Path) -> dict[str, StudyBuildRecord]:
    """audit.study_builds of the published warehouse ({} before the first night,
    or for a warehouse published before studies were built one by one)."""
    import duckdb

    if not Path(published).is_file():
        return {}
    with duckdb.connect(str(published), read_only=True) as con:
        return study_builds_from(con)


def study_builds_from(con) -> dict[str, StudyBuildRecord]:
    """audit.study_builds of a DuckDB connection's database ({} when it has none).
    The Spark engine reads its warehouse's Parquet through it (trialdw.engines.spark)."""
    from trialdw.warehouse import table_exists

    if not table_exists(con, "audit", "study_builds"):
        return {}
    rows = con.execute(
        """SELECT STUDYID, STATUS, REASON, PUBLISHED_RUN_ID, PUBLISHED_FINGERPRINT,
                  CAST(PUBLISHED_INPUTS AS VARCHAR), ATTEMPT_RUN_ID, ATTEMPT_FINGERPRINT,
                  CAST(ATTEMPT_INPUTS AS VARCHAR), HELD_BACK_SINCE
           FROM audit.study_builds"""
    ).fetchall()
    records = {}
    for study, status, reason, run, fingerprint, inputs, attempt, attempt_fp, attempt_inputs, since in rows:
        records[study] = StudyBuildRecord(
            study, status, reason, run, fingerprint, _json(inputs), attempt, attempt_fp, _json(attempt_inputs), since
        )
    return records


def _json(text: str | None):
    return json.loads(text) if text else None


def plan_studies(
    studies: dict, transfers: dict[str, dict[str, str]], previous: dict[str, StudyBuildRecord], code: str,
    readiness: str,
) -> list[StudyPlan]:  # fmt: skip
    """One plan per configured study, in STUDYID order."""
    plans = []
    for study_id in sorted(studies):
        inputs = StudyInputs(
            study=study_id,
            transfers=dict(sorted(transfers.get(study_id, {}).items())),
            config=config_fingerprint(studies[study_id]),
            code=code,
            readiness=readiness,
        )
        record = previous.get(study_id)
        fingerprint = inputs.fingerprint
        if record is not None and record.status == PUBLISHED and record.published_fingerprint == fingerprint:
            plans.append(StudyPlan(study_id, CARRY, inputs, record, "unchanged"))
        elif record is not None and record.status == HELD_BACK and record.attempt_fingerprint == fingerprint:
            plans.append(StudyPlan(study_id, HOLD, inputs, record, f"still held back: {record.reason}"))
        else:
            plans.append(StudyPlan(study_id, BUILD, inputs, record, _why_build(inputs, record)))
    return plans


def _why_build(inputs: StudyInputs, record: StudyBuildRecord | None) -> str:
    """What changed since the inputs of the published tables (or of the attempt
    that was held back), in words."""
    if record is None:
        return "first build"
    held = record.status == HELD_BACK
    basis = record.attempt_inputs if held else record.published_inputs
    if basis is None:
        return "first build"
    before = basis.get("transfers", {})
    changes = [f"{site}/{t}" for site, t in inputs.transfers.items() if before.get(site) != t]
    changes = ["new transfer " + ", ".join(changes)] if changes else []
    changes += [f"site {site} has no current transfer" for site in before if site not in inputs.transfers]
    for part, words in (("config", "study file"), ("code", "code or contracts"), ("readiness", "readiness contract")):
        if basis.get(part) != getattr(inputs, part):
            changes.append(f"{words} changed")
    why = "; ".join(changes) or "inputs changed"
    return f"held back before; {why}" if held else why


def record_for(plan: StudyPlan, run_id: str, published: bool, reason: str | None) -> StudyBuildRecord:
    """The audit.study_builds row after this night."""
    previous = plan.previous
    if plan.action == CARRY:
        return previous
    if plan.action == HOLD:
        return previous
    fingerprint, inputs = plan.inputs.fingerprint, dataclasses.asdict(plan.inputs)
    if published:
        return StudyBuildRecord(plan.study, PUBLISHED, None, run_id, fingerprint, inputs, run_id, fingerprint, inputs)
    since = previous.held_back_since if previous is not None and previous.status == HELD_BACK else None
    return StudyBuildRecord(
        plan.study,
        HELD_BACK,
        reason,
        previous.published_run_id if previous else None,
        previous.published_fingerprint if previous else None,
        previous.published_inputs if previous else None,
        run_id,
        fingerprint,
        inputs,
        since or run_id,
    )


def write_study_builds(con, records: list[StudyBuildRecord]) -> None:
    """(Re)write audit.study_builds in the file about to be published."""
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute("DROP TABLE IF EXISTS audit.study_builds")
    con.execute(STUDY_BUILDS_DDL)
    con.executemany(
        "INSERT INTO audit.study_builds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                r.study,
                r.status,
                r.reason,
                r.published_run_id,
                r.published_fingerprint,
                json.dumps(r.published_inputs) if r.published_inputs is not None else None,
                r.attempt_run_id,
                r.attempt_fingerprint,
                json.dumps(r.attempt_inputs) if r.attempt_inputs is not None else None,
                r.held_back_since,
            ]
            for r in records
        ],
    )
