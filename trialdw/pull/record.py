"""A pull's outcomes in the warehouse: ``audit.pulls`` and findings for refusals.

Every outcome is a row of ``audit.pulls`` (DDL in ``trialdw/sql/audit.sql``).
Every refused transfer is also a transfer-level finding (CATEGORY ``pull``,
SEVERITY ``reject``, file ``(pull)``) so the data managers' review page shows it
with its life cycle: open while pulls keep refusing it, resolved by the first
pull that looks at the site and no longer has the problem (RESOLVED_TRANSFER is
then the newest transfer that pull saw for the site). Only pulls resolve pull
findings (a loaded transfer says nothing about what the server holds), and a
site the pull did not get to (its source failed) keeps its findings as they are.
Folder-level refusals (a study or site folder that is a link) and failed sources
have no transfer, so they are rows of ``audit.pulls`` only (and lines of the run
summary and the review page's "Pulled from sites" table).

Not a transaction of its own: call it inside the caller's (the flow does).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from trialdw.ingest.findings import PULL, apply_findings, transfer_finding
from trialdw.ingest.load import ensure_audit
from trialdw.ingest.types import TransferRef
from trialdw.pull.outcomes import FAILED, REFUSED, PullReport

FINDING_FILE = "(pull)"  # keeps a pull finding's identity apart from the warehouse's own transfer checks


def _naive_utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def pull_findings(report: PullReport) -> dict[tuple[str, str, str], list[dict]]:
    """Findings of the refused transfers, by (study, site, transfer)."""
    found: dict[tuple[str, str, str], list[dict]] = {}
    for o in report.of(REFUSED):
        if not (o.study and o.site and o.transfer_id):
            continue
        ref = TransferRef(o.study, o.site, o.transfer_id, Path(o.study, o.site, o.transfer_id))
        finding = transfer_finding(ref, FINDING_FILE, o.rule, f"not landed from {o.source}: {o.reason}", category=PULL)
        found.setdefault((o.study, o.site, o.transfer_id), []).append(finding)
    return found


def _resolve_gone(con, report: PullReport, still: set[str]) -> None:
    failed_sites = {(o.study, o.site) for o in report.of(FAILED)}
    failed_sources = {o.source for o in report.of(FAILED) if not o.site}
    newest: dict[tuple[str, str], str] = {}
    for o in report.outcomes:
        if o.outcome == FAILED or not (o.study and o.site) or o.source in failed_sources:
            continue
        if (o.study, o.site) in failed_sites:
            continue
        key = (o.study, o.site)
        newest[key] = max(newest.get(key, ""), o.transfer_id or "")
    for (study, site), transfer_id in sorted(newest.items()):
        con.execute(
            """UPDATE audit.findings SET STATUS = 'resolved', RESOLVED_TRANSFER = ?
               WHERE STUDYID = ? AND SITEID = ? AND CATEGORY = ? AND STATUS = 'open'
                 AND NOT list_contains(?::VARCHAR[], FINDING_ID)""",
            [transfer_id or None, study, site, PULL, sorted(still)],
        )


def record_pull_outcomes(con, report: PullReport, run_id: str) -> int:
    """Write ``report`` into ``audit.pulls`` (replacing this run's rows, so a retried
    task records once) and the refusals into ``audit.findings``. Returns the rows written."""
    ensure_audit(con)
    con.execute("DELETE FROM audit.pulls WHERE RUN_ID = ?", [run_id])
    rows = [
        [
            run_id,
            o.study,
            o.site,
            o.transfer_id,
            o.source,
            o.outcome,
            o.rule,
            o.reason,
            o.files,
            o.bytes,
            _naive_utc(o.pulled_at),
        ]
        for o in report.outcomes
    ]
    if rows:
        con.executemany("INSERT INTO audit.pulls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    findings = pull_findings(report)
    # Per site in TRANSFER_ID order, as apply_findings expects; a refusal resolves nothing.
    for (study, site, transfer_id), found in sorted(findings.items()):
        apply_findings(con, study, site, transfer_id, found, accepted=False, categories=(PULL,))
    _resolve_gone(con, report, {f["FINDING_ID"] for found in findings.values() for f in found})
    return len(rows)
