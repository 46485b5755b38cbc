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
        finally:
            self.seconds[step] = round(time.perf_counter() - t0, 2)


@dataclass
class RunSummary:
    run_id: str
    published: str
    reports: str
    counts: dict
    news: str
    markdown: str
    details: dict = field(default_factory=dict)  # audit.runs DETAILS of this run

    pulled: str | None = None  # "2 landed, 5 skipped, …" when the night pulled from sites

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "warehouse": self.published,
            "news": self.news,
            "reports": self.reports,
            "pulled": self.pulled,
            **self.counts,
        }


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


def summarise_run(
    building: str,
    run_id: str,
    landing: str,
    paths: wh.WarehousePaths,
    loaded: list,
    timer: StepTimer,
    dbt_summary: dict,
    endpoint_summary: dict,
    readiness: dict,
    pulled: dict | None = None,
) -> RunSummary:
    """Count what the night did and say it in markdown (and as audit.runs DETAILS).
    ``pulled``: the pull's report (``PullReport.as_dict``) when the night pulled."""
    with duckdb.connect(building) as con:
        transfers = con.execute(
            """SELECT STUDYID, SITEID, TRANSFER_ID, STATUS, coalesce(REASON, '')
               FROM audit.transfers ORDER BY 1, 2, 3"""
        ).fetchall()
        counts = {
            "transfers_new": sum(1 for item in loaded if item.get("new")),
            "transfers_total": len(transfers),
            "rows_loaded": _scalar(
                con,
                "SELECT sum(ROWS_LOADED) FROM audit.reconciliation r "
                "JOIN audit.transfers t USING (STUDYID, SITEID, TRANSFER_ID) "
                "WHERE t.CURRENT = 'Y'",
            ),
            "rows_quarantined": _scalar(
                con,
                "SELECT sum(ROWS_QUARANTINED) FROM audit.reconciliation r "
                "JOIN audit.transfers t USING (STUDYID, SITEID, TRANSFER_ID) "
                "WHERE t.CURRENT = 'Y'",
            ),
            "findings_open": _scalar(con, "SELECT count(*) FROM audit.findings WHERE STATUS = 'open'"),
            "findings_resolved": _scalar(con, "SELECT count(*) FROM audit.findings WHERE STATUS = 'resolved'"),
            "subjects": _scalar(con, "SELECT count(*) FROM adam.adsl"),
        }
    details = {
        "steps_seconds": dict(timer.seconds),
        "counts": counts,
        "dbt": dbt_summary,
        "endpoints": endpoint_summary,
        "readiness": readiness,
        "transfers_this_run": [item for item in loaded if item.get("new")],
    }
    news = (
        f"{counts['transfers_new']} new transfer(s) processed"
        if counts["transfers_new"]
        else "nothing new: no transfer arrived since the last run; tables rebuilt from what was loaded"
    )
    pulled_text = None
    if pulled is not None:
        from trialdw.pull import PullReport

        details["pull"] = pulled  # every transfer's outcome, also in audit.pulls
        pulled_text = PullReport.from_dict(pulled).summary()
        news += f"; pulled from sites: {pulled_text}"
    lines = [
        f"# trialdw night {run_id}",
        "",
        f"- {news}",
        f"- warehouse: `{paths.published}`",
        f"- reports: `{paths.reports}`: `review.html` and `findings.csv` (data managers), "
        "`study-reports/index.html` (statisticians), `data-docs/index.html` (readiness checks)",
        f"- exports: `{paths.exports / 'latest'}` (Parquet and SAS XPT per study)",
        f"- subjects in ADSL: {counts['subjects']}",
        f"- rows loaded / quarantined (current transfers): {counts['rows_loaded']} / {counts['rows_quarantined']}",
        f"- findings open / resolved: {counts['findings_open']} / {counts['findings_resolved']}",
        "",
        "| study | site | transfer | status | reason |",
        "|---|---|---|---|---|",
        *[f"| {s} | {site} | {t} | {status} | {reason} |" for s, site, t, status, reason in transfers],
        "",
        "Step timings (s): " + ", ".join(f"{k} {v}" for k, v in timer.seconds.items()),
    ]
    if pulled is not None:
        lines += pull_markdown(pulled)
    markdown = "\n".join(lines) + "\n"
    return RunSummary(run_id, str(paths.published), str(paths.reports), counts, news, markdown, details, pulled_text)
