"""What changed since the last run: which findings are *new* and which were *resolved*.

This is the one place that decides it. Two sources, the first one available wins:

1. ``previous_db`` — the warehouse file published by the previous night (the flow
   passes it before it publishes the new one). A snapshot comparison by
   FINDING_ID: *new* = open now and absent or resolved in the previous file
   (a re-opened finding is new again); *resolved* = resolved now and absent or
   open in the previous file. This is exactly "what changed since the page the
   data manager saw last", and it also catches data-review findings that change
   without a new transfer (a new review rule deployed, a study file changed).
2. The warehouse's own audit trail, when no previous file is available (the
   first night, or a page regenerated later from the published file):
   ``audit.transfers.RUN_ID`` names the transfers each run processed. *New* =
   open and FIRST_SEEN_TRANSFER is one of the latest run's transfers of that
   site; *resolved* = RESOLVED_TRANSFER is one of them. The latest run is the
   ``run_id`` given, else the newest run id recorded in the file (run ids start
   with their UTC start time, so they sort by time).

A missing ``previous_db`` path (first night: nothing published yet) counts as an
empty warehouse: every open finding is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from trialdw.warehouse import table_exists

NEW = "new"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Changes:
    """FINDING_IDs new / resolved since the last run, and how that was decided."""

    new: frozenset[str]
    resolved: frozenset[str]
    basis: str  # human-readable: what "last run" meant here
    latest_run: str | None

    def change_of(self, finding_id: str) -> str:
        if finding_id in self.new:
            return NEW
        if finding_id in self.resolved:
            return RESOLVED
        return ""


def latest_run_id(con, run_id: str | None = None) -> str | None:
    if run_id:
        return run_id
    return con.execute(
        """SELECT max(RUN_ID) FROM (SELECT RUN_ID FROM audit.runs
                                    UNION ALL SELECT RUN_ID FROM audit.transfers)"""
    ).fetchone()[0]


def _statuses(con) -> dict[str, str]:
    return dict(con.execute("SELECT FINDING_ID, STATUS FROM audit.findings").fetchall())


def _previous_statuses(previous_db: Path) -> dict[str, str]:
    if not previous_db.exists():
        return {}
    with duckdb.connect(str(previous_db), read_only=True) as old:
        return _statuses(old) if table_exists(old, "audit", "findings") else {}


def changes_since_previous_file(con, previous_db: Path, run_id: str | None = None) -> Changes:
    before, now = _previous_statuses(previous_db), _statuses(con)
    new = {fid for fid, status in now.items() if status == "open" and before.get(fid) != "open"}
    resolved = {fid for fid, status in now.items() if status == "resolved" and before.get(fid) != "resolved"}
    basis = (
        f"compared with the previously published warehouse {previous_db.name}"
        if previous_db.exists()
        else "first published night: no earlier warehouse to compare with"
    )
    return Changes(frozenset(new), frozenset(resolved), basis, latest_run_id(con, run_id))


def changes_from_audit_trail(con, run_id: str | None = None) -> Changes:
    run = latest_run_id(con, run_id)
    rows = con.execute(
        """WITH latest AS (SELECT STUDYID, SITEID, TRANSFER_ID FROM audit.transfers WHERE RUN_ID = ?)
           SELECT f.FINDING_ID,
                  f.STATUS = 'open' AND EXISTS (SELECT 1 FROM latest l WHERE l.STUDYID = f.STUDYID
                      AND l.SITEID = f.SITEID AND l.TRANSFER_ID = f.FIRST_SEEN_TRANSFER) AS is_new,
                  f.STATUS = 'resolved' AND EXISTS (SELECT 1 FROM latest l WHERE l.STUDYID = f.STUDYID
                      AND l.SITEID = f.SITEID AND l.TRANSFER_ID = f.RESOLVED_TRANSFER) AS is_resolved
           FROM audit.findings AS f""",
        [run],
    ).fetchall()
    basis = (
        f"findings first seen / resolved in the transfers processed by run {run}"
        if run
        else "no run recorded in this warehouse"
    )
    return Changes(
        frozenset(fid for fid, is_new, _ in rows if is_new),
        frozenset(fid for fid, _, is_resolved in rows if is_resolved),
        basis,
        run,
    )


def changes_since_last_run(con, previous_db: Path | None = None, run_id: str | None = None) -> Changes:
    """See the module docstring for the rule."""
    if previous_db is not None:
        return changes_since_previous_file(con, Path(previous_db), run_id)
    return changes_from_audit_trail(con, run_id)
