"""Everything under a landing folder, in order: discover → check → validate → load.

Transfers of a site are processed in TRANSFER_ID order, each one validated, even
when several arrived since the last run. A transfer already recorded with the same
manifest sha256 is skipped (a rerun does no load work); an ``incomplete`` one, and
one rejected because a file could not be read at all (``unreadable``: a landing-zone
problem such as permissions, not a data defect), are looked at again. Each transfer
is one DuckDB transaction.

``ingest_transfers`` runs the same steps over a list of transfers with
look-ahead: while a transfer loads into the history store (DuckDB on the main
thread), the next ones are checked and validated, one at a time, on a second
thread (the process's in-memory DuckDB, polars and pyarrow, all of which
release the GIL), so the ingest uses both cores. Order, transactions and
findings are those of the one-by-one loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from trialdw import history
from trialdw.ingest.contracts import load_contracts
from trialdw.ingest.findings import apply_findings
from trialdw.ingest.load import ensure_audit, load_transfer, record_incomplete, record_transfer
from trialdw.ingest.rows import validate_transfer
from trialdw.ingest.same_files import ValidatedFiles
from trialdw.ingest.transfers import UNREADABLE, check_transfer, discover
from trialdw.ingest.types import INCOMPLETE, REJECTED, IngestSummary, TransferCheck, TransferRef, ValidatedTransfer
from trialdw.ops import testhook


def _recorded(con, ref) -> tuple[str, str | None] | None:
    """(STATUS, MANIFEST_SHA256) of the transfer's audit row, or None."""
    found = con.execute(
        "SELECT STATUS, MANIFEST_SHA256 FROM audit.transfers WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?",
        [ref.study, ref.site, ref.transfer_id],
    ).fetchall()
    return found[0] if found else None


def _manifest_sha(ref) -> str | None:
    path = ref.path / "manifest.json"
    if ref.status is not None or os.path.islink(path) or not path.is_file():
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:  # unreadable now: nothing new can be loaded from it either
        return None


def _rejected_as_unreadable(con, ref) -> bool:
    """Was the recorded rejection (also) caused by a file the warehouse could not read?"""
    return bool(
        con.execute(
            """SELECT count(*) FROM audit.finding_occurrences AS o JOIN audit.findings AS f USING (FINDING_ID)
           WHERE f.STUDYID = ? AND f.SITEID = ? AND o.TRANSFER_ID = ? AND f.RULE = ?""",
            [ref.study, ref.site, ref.transfer_id, UNREADABLE],
        ).fetchall()[0][0]
    )


def _forget_attempt(con, ref) -> None:
    """Drop the audit.transfers / audit.files rows of an attempt that is retried (the
    attempt's findings and their occurrences stay: they are its history)."""
    for table in ("audit.transfers", "audit.files"):
        con.execute(
            f"DELETE FROM {table} WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?",
            [ref.study, ref.site, ref.transfer_id],
        )


Checked = tuple[TransferCheck, ValidatedTransfer | None]


def check_and_validate(ref, studies: dict, contracts: dict, work_dir: Path, same_files=None) -> Checked:
    """The transfer check and, for an accepted transfer, the row validation. Touches
    no warehouse: its output is the check and files under ``work_dir``.
    ``same_files``: validate_transfer's (the ingest's ValidatedFiles)."""
    check = check_transfer(ref, studies.get(ref.study), contracts, parse_dir=work_dir, same_files=same_files)
    validated = (
        validate_transfer(ref, check, studies[ref.study], contracts, work_dir, same_files) if check.accepted else None
    )
    return check, validated


def _previous_attempt(con, ref) -> tuple[tuple[str, str | None] | None, bool]:
    """(the transfer's audit row or None, whether that attempt is replaced: it
    was rejected because a file could not be read)."""
    recorded = _recorded(con, ref)
    return recorded, recorded is not None and recorded[0] == REJECTED and _rejected_as_unreadable(con, ref)


def _checked_now(recorded, retry: bool) -> bool:
    """Is a complete transfer checked and loaded? When new, recorded incomplete,
    or tried again; otherwise it is skipped (same manifest) or a conflict."""
    return recorded is None or recorded[0] == INCOMPLETE or retry


def _will_be_checked(con, ref) -> bool:
    """Will ``ingest_transfer`` check and validate this transfer? (Read-only.)"""
    return ref.status != INCOMPLETE and _checked_now(*_previous_attempt(con, ref))


def ingest_transfer(
    con,
    ref,
    studies: dict,
    contracts: dict,
    work_dir: Path,
    run_id: str | None,
    summary: IngestSummary,
    checked: Callable[[], Checked] | None = None,
) -> str:
    """Check, validate and load one transfer (one transaction); returns what happened:
    ``skipped`` (already recorded, same manifest), ``conflict`` (recorded id, other
    manifest: nothing overwritten in place) or the transfer's STATUS.

    ``checked``: returns the transfer's ``check_and_validate`` done ahead (by
    ``ingest_transfers``); None: done here."""
    key = (ref.study, ref.site, ref.transfer_id)
    if ref.status == INCOMPLETE:
        summary.already_incomplete = not record_incomplete(con, ref, run_id)
        summary.processed.append((*key, INCOMPLETE))
        return INCOMPLETE
    recorded, retry = _previous_attempt(con, ref)
    if not _checked_now(recorded, retry):
        sha = _manifest_sha(ref)
        if sha is None or sha == recorded[1]:
            summary.skipped.append(key)
            return "skipped"
        # Same TRANSFER_ID, different content: nothing is overwritten in place;
        # the site must send it as a new transfer. Reported, not loaded.
        summary.conflicts.append(key)
        return "conflict"
    check, validated = checked() if checked else check_and_validate(ref, studies, contracts, work_dir)
    con.execute("BEGIN TRANSACTION")
    try:
        if retry:
            _forget_attempt(con, ref)
        if validated is not None:
            load_transfer(con, validated, contracts)
        record_transfer(con, ref, check, run_id)
        if validated is not None and any(d.rows_loaded for d in validated.domains):
            testhook.pause_here("ingest")  # test-only: killed inside the transfer's transaction
        apply_findings(
            con,
            ref.study,
            ref.site,
            ref.transfer_id,
            validated.findings_path if validated else check.findings,
            accepted=check.accepted,
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    summary.processed.append((*key, check.status))
    if validated is not None:
        summary.rows_loaded += sum(d.rows_loaded for d in validated.domains)
        summary.rows_quarantined += sum(d.rows_quarantined for d in validated.domains)
    return check.status


# Transfers checked and validated ahead of the one loading. One was not enough:
# a site's first transfer loads slower than the next validates (every record is
# new), its second faster (most are unchanged), so with one ahead each thread
# waited for the other in turn (the 10-study bench's ingest alone: 42 -> 38 s).
AHEAD = 3


# While the next transfer is still being validated, the loading thread folds the
# store's write-ahead log into the file once it holds this much: work the store
# needs anyway (at its threshold, or when it closes) done while the thread waits.
IDLE_CHECKPOINT_BYTES = 32 * 1024 * 1024


def _wal_bytes(con) -> int:
    """Size of the write-ahead log of the file ``con`` writes (0: none, or in memory)."""
    (path,) = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    try:
        return os.path.getsize(f"{path}.wal") if path else 0
    except OSError:
        return 0


def _checkpoint_while_waiting(con, future: Future | None) -> None:
    """Fold the log now if the next transfer is not validated yet and the log has
    grown: the close (or the next threshold) then has less to do, on the critical
    path. A failed checkpoint changes nothing: the log stays and is folded later."""
    import duckdb

    if future is not None and not future.done() and _wal_bytes(con) >= IDLE_CHECKPOINT_BYTES:
        with contextlib.suppress(duckdb.Error):
            con.execute("CHECKPOINT")


def ingest_transfers(
    con, refs: list[TransferRef], studies: dict, contracts: dict, work_dir: Path, run_id: str | None
) -> Iterator[tuple[TransferRef, str | Exception, IngestSummary]]:
    """``ingest_transfer`` for each of ``refs`` in order, yielding (ref, outcome,
    its summary); the next AHEAD transfers' checks and validation run on a
    second thread while this one loads. An exception (of the checks or of the
    load) is yielded as the outcome, and the study's later transfers are not
    loaded; other studies' are.

    One transfer is validated at a time (one thread), so the memory this costs
    is one transfer's validation (batches of polars frames, the parse spilling
    to disk beyond its DuckDB's limit) beside one load; transfers validated
    ahead wait as files in ``work_dir``."""
    failed: set[str] = set()  # studies whose ingest stopped
    same_files = ValidatedFiles()  # used by the one validation thread only
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trialdw-validate") as pool:
        ahead: dict[int, Future] = {}

        def start(i: int) -> None:
            if i < len(refs) and i not in ahead and refs[i].study not in failed and _will_be_checked(con, refs[i]):
                ahead[i] = pool.submit(check_and_validate, refs[i], studies, contracts, work_dir, same_files)

        try:
            for i, ref in enumerate(refs):
                future = ahead.pop(i, None)
                if ref.study in failed:
                    continue  # its validation was cancelled, or its result is not used
                if future is None:
                    start(i)
                    future = ahead.pop(i, None)
                for j in range(i + 1, i + 1 + AHEAD):  # queued behind this one's: run while this one loads
                    start(j)
                _checkpoint_while_waiting(con, future)
                summary = IngestSummary()
                try:
                    outcome = ingest_transfer(
                        con, ref, studies, contracts, work_dir, run_id, summary, future.result if future else None
                    )
                except Exception as exc:
                    failed.add(ref.study)
                    for j, queued in ahead.items():
                        if refs[j].study == ref.study:
                            queued.cancel()  # not started yet: it never runs
                    outcome = exc
                yield ref, outcome, summary
        finally:
            # Closed early (the night failed): the validations queued ahead do not run;
            # the one running, if any, is waited for.
            pool.shutdown(wait=True, cancel_futures=True)


def ingest_landing(
    con, landing: Path, studies: dict, work_dir: Path, run_id: str | None, contracts: dict | None = None
) -> IngestSummary:
    contracts = contracts or load_contracts()
    ensure_audit(con)
    history.ensure_history(con, contracts)
    summary = IngestSummary()
    transfers = ingest_transfers(con, discover(Path(landing)), studies, contracts, work_dir, run_id)
    try:
        for _ref, outcome, one in transfers:
            if isinstance(outcome, Exception):
                raise outcome
            summary.add(one)
    finally:
        transfers.close()
    return summary
