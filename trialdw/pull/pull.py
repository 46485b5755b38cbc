"""Pull every configured source into the landing, one transfer at a time.

Unattended: a transient network fault (refused, reset or lost connection, a
timeout) is retried after 1, 4 and 10 s (``trialdw.ops.retry``), when
connecting and per transfer; a rejected key or host key, a missing secret or a
checksum mismatch is not. A source that still cannot be pulled is one ``failed``
outcome with its one-line reason, and the other sources are pulled all the same.
"""

from __future__ import annotations

from pathlib import Path

from trialdw.ops.retry import is_transient, with_backoff
from trialdw.ops.runlog import one_line
from trialdw.pull.hostkeys import SourceUnavailable
from trialdw.pull.landing_area import LandingBusy, landing_lock, remove_leftovers
from trialdw.pull.outcomes import FAILED, PullReport, TransferOutcome
from trialdw.pull.progress import Progress
from trialdw.pull.remote import CONFIG, Remote, open_remote
from trialdw.pull.sources import Source
from trialdw.pull.transfer import pull_transfer
from trialdw.pull.walk import RemoteTransfer, walk
from trialdw.study_config import ConfigError

UNREACHABLE = "unreachable"
BUSY = "busy"


def _failed(source: str, rule: str, reason: str, study=None, site=None, transfer_id=None) -> TransferOutcome:
    return TransferOutcome(source, study, site, transfer_id, FAILED, rule, reason)


def _failure(source: Source, exc: BaseException) -> tuple[str, str]:
    """(rule, one-line reason) of an error that stopped a source."""
    if isinstance(exc, SourceUnavailable):
        return exc.rule, str(exc)
    if isinstance(exc, ConfigError):
        return CONFIG, str(exc)
    text = one_line(exc) if str(exc).strip() else type(exc).__name__
    if is_transient(exc):
        return UNREACHABLE, f"{source.display}: {text} (still failing after retries)"
    return UNREACHABLE, f"{source.display}: {text}"


def _stops_source(exc: BaseException) -> bool:
    """Errors that are about reaching the source, not bugs of the pull."""
    import asyncssh

    return isinstance(exc, (SourceUnavailable, ConfigError, OSError, TimeoutError, asyncssh.Error)) or is_transient(exc)


class _Session:
    """The source's connection, opened on demand and dropped after a fault, so a
    retry starts on a fresh connection (a lost SSH connection does not come back)."""

    def __init__(self, source: Source):
        self.source = source
        self.remote: Remote | None = None

    def get(self) -> Remote:
        if self.remote is None:
            self.remote = open_remote(self.source)
        return self.remote

    def drop(self) -> None:
        if self.remote is not None:
            self.remote.close()
            self.remote = None


def pull_source(source: Source, landing: Path, progress: Progress, verify: bool = False) -> PullReport:
    """Every transfer of one source (call under ``landing_lock``)."""
    report = PullReport()
    session = _Session(source)

    def retrying(exc: BaseException, delay: float) -> None:
        session.drop()
        progress.note(f"  {source.display}: {one_line(exc) or type(exc).__name__}; retrying in {delay:g} s")

    current: RemoteTransfer | None = None
    try:
        items = with_backoff(lambda: list(walk(session.get())), on_retry=retrying)
        for item in items:
            if isinstance(item, TransferOutcome):
                progress.outcome(report.add(item))
                continue
            current = item
            outcome = with_backoff(
                lambda rt=item: pull_transfer(session.get(), rt, landing, progress, verify), on_retry=retrying
            )
            progress.outcome(report.add(outcome))
            current = None
    except Exception as exc:
        if not _stops_source(exc):
            raise
        where = {"study": current.study, "site": current.site, "transfer_id": current.transfer_id} if current else {}
        progress.outcome(report.add(_failed(source.display, *_failure(source, exc), **where)))
    finally:
        session.drop()
    return report


def pull_sources(
    sources: list[Source], landing: Path, progress: Progress | None = None, verify: bool = False
) -> PullReport:
    """Pull every source into ``landing`` (created if missing), under the landing's
    lock, after removing what killed pulls left behind."""
    progress = progress or Progress()
    landing = Path(landing)
    report = PullReport()
    try:
        with landing_lock(landing):
            for leftover in remove_leftovers(landing):
                progress.note(f"removed {leftover.relative_to(landing)} (left by an interrupted pull)")
            for source in sources:
                report.extend(pull_source(source, landing, progress, verify))
    except LandingBusy as exc:
        progress.outcome(report.add(_failed(str(landing), BUSY, str(exc))))
    return report
