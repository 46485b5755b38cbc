"""The append-only run log beside the warehouse: every run, failures included.

A run's private building file dies with a failed run, so a failure cannot be
recorded inside the warehouse it was building. Each run therefore appends a
``start`` line to ``<folder>/<stem>-runs.jsonl`` when it begins and an ``end``
line (completed / failed / refused, with the one-line reason) when it ends.
Each published warehouse copies the whole log into ``audit.runs``, so failed
nights are queryable next to the successful ones.

A run killed outright (SIGKILL, power loss) writes no ``end`` line; read under
the writer lock, when no other run can be going on, such a run is reported as
``interrupted``. Lines are appended with one ``write`` on an ``O_APPEND`` file
and fsync'ed; a torn last line (machine stopped mid-write) is skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
REFUSED = "refused"  # another run held the writer lock; nothing was done
INTERRUPTED = "interrupted"  # started, never ended: the process was killed
END_STATUSES = (COMPLETED, FAILED, REFUSED)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def one_line(exc: BaseException) -> str:
    """The reason a run ended, on one line, for the log and the CLI."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass
class RunRecord:
    run_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    status: str = RUNNING
    message: str | None = None
    code_version: str | None = None
    details: dict = field(default_factory=dict)

    def row(self) -> list:
        """A row of audit.runs (timestamps in UTC, without zone, like the rest of audit)."""
        naive = lambda t: t.astimezone(dt.UTC).replace(tzinfo=None) if t else None  # noqa: E731
        return [
            self.run_id,
            naive(self.started_at),
            naive(self.ended_at),
            self.status,
            self.message,
            self.code_version,
            json.dumps(self.details, default=str, sort_keys=True),
        ]


class RunLog:
    def __init__(self, path: Path):
        self.path = Path(path)

    def _append(self, event: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event, default=str, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # A torn line from a crash must not swallow this one.
            if os.fstat(fd).st_size and not self._ends_with_newline():
                line = "\n" + line
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def start(self, run_id: str, started_at: dt.datetime, code_version: str, details: dict) -> None:
        self._append(
            {
                "event": "start",
                "run_id": run_id,
                "at": started_at.isoformat(),
                "code_version": code_version,
                "details": details,
            }
        )

    def end(self, run_id: str, status: str, message: str, details: dict) -> None:
        if status not in END_STATUSES:
            raise ValueError(f"a run ends {'/'.join(END_STATUSES)}, not {status!r}")
        self._append(
            {
                "event": "end",
                "run_id": run_id,
                "at": _now().isoformat(),
                "status": status,
                "message": message,
                "details": details,
            }
        )

    def records(self, running: str | None = None) -> list[RunRecord]:
        """Every run in the log, oldest first. A run without an end line is
        ``interrupted`` unless it is ``running`` (the caller's own run)."""
        if not self.path.exists():
            return []
        runs: dict[str, RunRecord] = {}
        for text in self.path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(text)
            except json.JSONDecodeError:
                continue  # torn line of a run that died mid-write
            at = dt.datetime.fromisoformat(event["at"])
            if event["event"] == "start":
                runs[event["run_id"]] = RunRecord(
                    event["run_id"], at, code_version=event.get("code_version"), details=event.get("details") or {}
                )
            elif event["event"] == "end" and event["run_id"] in runs:
                record = runs[event["run_id"]]
                record.ended_at, record.status, record.message = at, event["status"], event.get("message")
                record.details = {**record.details, **(event.get("details") or {})}
        for record in runs.values():
            if record.status == RUNNING and record.run_id != running:
                record.status = INTERRUPTED
                record.message = "no end recorded: the process was killed or the machine stopped"
        return sorted(runs.values(), key=lambda r: (r.started_at, r.run_id))


@dataclass
class Outcome:
    """What the body of ``RunLog.recording`` says about a run that went well:
    its one-line message and the details audit.runs keeps (counts, studies…)."""

    message: str = ""
    details: dict = field(default_factory=dict)


@contextlib.contextmanager
def recording(
    log: RunLog,
    run_id: str,
    started_at: dt.datetime,
    code_version: str,
    start_details: dict,
    steps_seconds: dict,
    failed_step=lambda: None,
):
    """Write the run's start line, then its end line however the body ends.

    An exception ends the run ``failed`` (``refused`` for
    ``warehouse.WarehouseBusy``) with its one-line reason, and is re-raised.
    ``steps_seconds`` is read at the end, so the body may keep filling it.
    """
    from trialdw.warehouse import WarehouseBusy

    log.start(run_id, started_at, code_version, start_details)
    outcome = Outcome()
    try:
        yield outcome
    except BaseException as exc:  # failures, refusals, cancellation: all recorded
        log.end(
            run_id,
            REFUSED if isinstance(exc, WarehouseBusy) else FAILED,
            one_line(exc),
            {"steps_seconds": dict(steps_seconds), "failed_step": failed_step()},
        )
        raise
    log.end(run_id, COMPLETED, outcome.message, {**outcome.details, "steps_seconds": dict(steps_seconds)})


def write_runs_table(con, records: list[RunRecord]) -> None:
    """Make audit.runs hold every run of the log (DDL in trialdw/sql/audit.sql).

    Rows of runs the log does not know (a warehouse older than its log) stay.
    A run the log calls interrupted but the warehouse recorded as completed
    died after publishing, before its end line: the warehouse is right.
    """
    recorded = dict(con.execute("SELECT RUN_ID, STATUS FROM audit.runs").fetchall())
    rows = [r.row() for r in records if not (r.status == INTERRUPTED and recorded.get(r.run_id) == COMPLETED)]
    if rows:
        con.executemany("INSERT OR REPLACE INTO audit.runs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
