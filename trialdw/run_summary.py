"""What a night did, in figures: for audit.runs, the Prefect artifact and the CLI."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field

import duckdb

from trialdw import warehouse as wh


class RunFailed(RuntimeError):
    """The run could not complete; the message is the one-line reason."""


@dataclass
class StepTimer:
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    seconds: dict[str, float] = field(default_factory=dict)
    failed_step: str | None = None  # the step an exception left, for the run log

    @contextlib.contextmanager
    def __call__(self, step: str):
        t0 = time.perf_counter()
        try:
            yield
        except BaseException:
            self.failed_step = self.failed_step or step
            raise
        finally:  # a step run once per build group adds up
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.perf_counter() - t0, 2)


@dataclass
class RunSummary:
    run_id: str
    published: str
    reports: str
    counts: dict
    news: str
    markdown: str
    details: dict = field(default_factory=dict)  # audit.runs DETAILS of this run
    held_back: dict = field(default_factory=dict)  # STUDYID -> reason
    study_lines: list = field(default_factory=list)  # one line per study, for the CLI's last lines
    study_builds: list = field(default_factory=list)  # audit.study_builds rows (trialdw.study_plan)
    was_published: bool = True
    exports: str | None = None
    pulled: str | None = None  # "2 landed, 5 skipped, …" when the night pulled from sites

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "warehouse": self.published,
            "news": self.news,
            "reports": self.reports,
            "published": self.was_published,
            "held_back": self.held_back,
            "studies": self.study_lines,
            "review_page": str(wh.WarehousePaths(self.published_path).reports / "review.html"),
            "study_reports": str(wh.WarehousePaths(self.published_path).reports / "study-reports" / "index.html"),
            "exports": self.exports or str(wh.WarehousePaths(self.published_path).exports / "latest"),
            "pulled": self.pulled,
            **self.counts,
        }

    @property
    def published_path(self):
        from pathlib import Path

        return Path(self.published)


def _scalar(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0] or 0


def contract_versions() -> dict[str, str]:
    from trialdw.ingest import contracts

    return {name: str(c.version) for name, c in contracts.load_contracts().items()}


def pull_markdown(pulled: dict) -> list[str]:
    """The "Pulled from sites" part: counts, and every outcome but ``skipped``."""
    from trialdw.pull import PullReport
    from trialdw.review_app.summary import md_cell

    def _md(value) -> str:
        return md_cell("" if value is None else value)

    report = PullReport.from_dict(pulled)
    lines = ["", "## Pulled from sites", "", f"- {report.summary()}"]
    shown = [o for o in report.outcomes if o.outcome != "skipped"]
    if shown:
        lines += [
            "",
            "| outcome | study | site | transfer | rule | files | reason |",
            "|---|---|---|---|---|---:|---|",
            *[
                f"| {o.outcome} | {_md(o.study)} | {_md(o.site)} | {_md(o.transfer_id)} | {_md(o.rule)} "
                f"| {o.files} | {_md(o.reason)} |"
                for o in shown
            ],
        ]
    return lines


def _counts(con, new_transfers: int) -> dict:
    current = "JOIN audit.transfers t USING (STUDYID, SITEID, TRANSFER_ID) WHERE t.CURRENT = 'Y'"
    return {
        "transfers_new": new_transfers,
        "transfers_total": _scalar(con, "SELECT count(*) FROM audit.transfers"),
        "rows_loaded": _scalar(con, f"SELECT sum(ROWS_LOADED) FROM audit.reconciliation r {current}"),
        "rows_quarantined": _scalar(con, f"SELECT sum(ROWS_QUARANTINED) FROM audit.reconciliation r {current}"),
        "findings_open": _scalar(con, "SELECT count(*) FROM audit.findings WHERE STATUS = 'open'"),
        "findings_resolved": _scalar(con, "SELECT count(*) FROM audit.findings WHERE STATUS = 'resolved'"),
    }


def _study_line(plan, held_back: dict, published: bool) -> str:
    from trialdw.study_plan import BUILD, CARRY

    if plan.study in held_back:
        since = ""
        if plan.action != BUILD and plan.previous is not None and plan.previous.held_back_since:
            since = f" since run {plan.previous.held_back_since}"
        return f"{plan.study}: held back{since}, keeps its published tables: {held_back[plan.study]}"
    if plan.action == CARRY:
        return f"{plan.study}: unchanged, carried over"
    return f"{plan.study}: {'published' if published else 'built'} ({plan.why})"


def night_summary(
    run_id: str, paths: wh.WarehousePaths, ingested: list[dict], plans: list, held_back: dict, timer: StepTimer,
    *, published: bool, building: str | None = None, details: dict | None = None, built: list[str] = (),
    pulled: dict | None = None,
) -> RunSummary:  # fmt: skip
    """Count what the night did and say it in markdown (and as audit.runs DETAILS).
    ``pulled``: the pull's report (``PullReport.as_dict``) when the night pulled from sites.

    ``held_back``: studies held back tonight (STUDYID -> reason); studies still
    held back from an earlier night (unchanged since) are added here."""
    from trialdw.study_plan import HOLD, record_for

    held_back = dict(held_back)  # ``built``: the studies tonight built (or tried to)
    for plan in plans:
        if plan.action == HOLD and plan.study not in held_back:
            held_back[plan.study] = plan.previous.reason
    new = [t for item in ingested for t in item["transfers"] if t["new"]]
    source = building if published else str(paths.history)
    with duckdb.connect(source, read_only=True) as con:
        counts = _counts(con, len(new))
        transfers = con.execute(
            "SELECT STUDYID, SITEID, TRANSFER_ID, STATUS, coalesce(REASON, '') FROM audit.transfers ORDER BY 1, 2, 3"
        ).fetchall()
    subjects_file = building if published else (str(paths.published) if paths.published.is_file() else None)
    counts["subjects"] = 0
    if subjects_file:
        with duckdb.connect(subjects_file, read_only=True) as con:
            counts["subjects"] = _scalar(con, "SELECT count(*) FROM adam.adsl")
    study_lines = [_study_line(p, held_back, published) for p in plans]
    rebuilt = [p.study for p in plans if p.action == "build" and p.study not in held_back]
    if new:
        news = f"{len(new)} new transfer(s) processed"
    elif published:
        news = "no new transfer"
    else:
        news = "nothing new: no transfer arrived since the last run; nothing built, nothing published"
    if rebuilt and not new:
        news += "; rebuilt " + ", ".join(rebuilt)
    if held_back:
        news += "; held back: " + ", ".join(sorted(held_back))
    run_details = {
        "steps_seconds": dict(timer.seconds),
        "counts": counts,
        "studies": {p.study: {"action": p.action, "why": p.why, "held_back": held_back.get(p.study)} for p in plans},
        "transfers_this_run": new,
        **(details or {}),
    }
    pulled_text = None
    if pulled is not None:
        from trialdw.pull import PullReport

        run_details["pull"] = pulled  # every transfer's outcome, also in audit.pulls
        pulled_text = PullReport.from_dict(pulled).summary()
        news += f"; pulled from sites: {pulled_text}"
    lines = [
        f"# trialdw night {run_id}",
        "",
        f"- {news}",
        f"- warehouse: `{paths.published}`" + ("" if published else " (unchanged: nothing published tonight)"),
        f"- reports: `{paths.reports}`: `review.html` and `findings.csv` (data managers), "
        "`study-reports/index.html` (statisticians), `data-docs/index.html` (readiness checks), "
        "`lineage/index.html` (dbt docs: models, columns, lineage)",
        f"- exports: `{paths.exports / 'latest'}` (Parquet, SAS XPT, Dataset-JSON, define.xml per study)",
        f"- subjects in ADSL: {counts['subjects']}",
        f"- rows loaded / quarantined (current transfers): {counts['rows_loaded']} / {counts['rows_quarantined']}",
        f"- findings open / resolved: {counts['findings_open']} / {counts['findings_resolved']}",
        "",
        "## Studies",
        "",
        *[f"- {line}" for line in study_lines],
        "",
        "| study | site | transfer | status | reason |",
        "|---|---|---|---|---|",
        *[f"| {s} | {site} | {t} | {status} | {reason} |" for s, site, t, status, reason in transfers],
        "",
        "Step timings (s): " + ", ".join(f"{k} {v}" for k, v in timer.seconds.items()),
    ]
    if pulled is not None:
        lines += pull_markdown(pulled)
    study_builds = []
    for plan in plans:
        if plan.study in built:
            study_builds.append(record_for(plan, run_id, plan.study not in held_back, held_back.get(plan.study)))
        elif plan.previous is not None:
            study_builds.append(plan.previous)
    return RunSummary(
        run_id,
        str(paths.published),
        str(paths.reports),
        counts,
        news,
        "\n".join(lines) + "\n",
        run_details,
        held_back,
        study_lines,
        study_builds,
        published,
        pulled=pulled_text,
    )
