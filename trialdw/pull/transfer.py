"""What to do with one transfer folder on a source: land it, skip it, leave it
for later, or refuse it (and why). The copying itself is ``copy_transfer``.

Rules, in the order they are applied:

1. Already in the landing → compare. Same bytes → ``skipped``. A file on the
   server that differs from the landed one, or a file the landed copy lacks →
   ``refused`` / ``changed_after_landing``: the landed copy is never replaced,
   the server's copy is kept aside for the data manager (once per distinct
   content). "Same bytes" is decided like rsync: size and modification time
   equal (the pull gives landed files the server's time); any file where they
   differ, or whose time is within 2 s of when it landed, or a source without
   times, is re-read and compared by sha256. ``verify=True`` re-reads every file.
   Files deleted from the server after landing change nothing.
2. Not landed: no ``manifest.json`` → ``incomplete``. A name that would leave the
   folder (manifest entry ``../DM.csv``, ``a/b``, an absolute path) →
   ``refused`` / ``unsafe_name``; a symbolic link → ``symlink``; a sub-folder or
   device → ``not_a_file``. Nothing of a refused transfer is read.
3. A manifest that is not (yet) valid, a listed file not there yet, or a file
   whose sha256 differs from the manifest → ``incomplete`` (the upload may be
   going on; the next pull looks again).
4. Otherwise copied and verified → ``landed``. Files on the server the manifest
   does not list are copied too, as sent: the warehouse then rejects the
   transfer with ``file_unlisted`` as the spec says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from trialdw.ingest.transfers import MANIFEST, MAX_MANIFEST_BYTES, is_plain_name, parse_manifest
from trialdw.pull.copy_transfer import ChangedDuringCopy, ChecksumMismatch, FilePlan, copy_folder, stream_file
from trialdw.pull.landing_area import kept_aside_folder, latest_kept_aside, local_entries
from trialdw.pull.outcomes import (
    CHANGED_AFTER_LANDING,
    INCOMPLETE,
    LANDED,
    NOT_A_FILE,
    REFUSED,
    SKIPPED,
    SYMLINK,
    UNSAFE_NAME,
    TransferOutcome,
)
from trialdw.pull.progress import Progress
from trialdw.pull.remote import Entry, Remote
from trialdw.pull.walk import RemoteTransfer


def _outcome(remote: Remote, rt: RemoteTransfer, outcome: str, reason: str, rule=None, files=0, size=0, at=None):
    return TransferOutcome(
        remote.source.display,
        rt.study,
        rt.site,
        rt.transfer_id,
        outcome,
        rule,
        reason,
        files,
        size,
        **({"pulled_at": at} if at else {}),
    )


def _names(names) -> str:
    names = sorted(names)
    shown = ", ".join(repr(n) if not is_plain_name(n) else n for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _unsafe_entries(entries: dict[str, Entry], listed: dict | None) -> tuple[str, str] | None:
    """(rule, reason) when the folder holds something that is never read."""
    unsafe = [n for n in (listed or {}) if not is_plain_name(n) or n == MANIFEST]
    unsafe += [n for n in entries if not is_plain_name(n)]
    if unsafe:
        return UNSAFE_NAME, (
            f"{_names(unsafe)}: not a plain file name in the transfer folder "
            "(a name that would leave it, or the manifest itself); nothing of the transfer is read"
        )
    links = [n for n, e in entries.items() if e.kind == "link"]
    if links:
        return SYMLINK, f"{_names(links)} on the server: symbolic link(s), never followed; nothing is landed"
    odd = [n for n, e in entries.items() if e.kind != "file"]
    if odd:
        return NOT_A_FILE, f"{_names(odd)} on the server: not a regular file (a folder?); nothing is landed"
    return None


def _remote_sha(remote: Remote, rt: RemoteTransfer, entry: Entry, progress: Progress) -> str:
    return stream_file(remote, f"{rt.path}/{entry.name}", entry.size, progress)[0]


def _local_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# A file copied within this many seconds of its last change could have changed again
# in the same second (times are whole seconds): its time proves nothing, its bytes do.
FRESH_SECONDS = 2


def _quick_same(entry: Entry, info: os.stat_result) -> bool:
    """Same size and modification time as the landed copy (which got the server's
    time when it landed; its ctime is when that was), the time not too fresh."""
    return (
        entry.mtime is not None
        and entry.size == info.st_size
        and entry.mtime == int(info.st_mtime)
        and entry.mtime < info.st_ctime - FRESH_SECONDS
    )


def _differs(remote, rt, entry: Entry, landed: Path, local: dict, verify: bool, progress: Progress) -> bool:
    """Is the server's file other bytes than the landed one? Re-read only when size
    and time do not already settle it (or ``verify``)."""
    if entry.name not in local or entry.size != local[entry.name].st_size:
        return True
    if not verify and _quick_same(entry, local[entry.name]):
        return False
    return _remote_sha(remote, rt, entry, progress) != _local_sha(landed / entry.name)


def check_landed(
    remote: Remote,
    rt: RemoteTransfer,
    entries: dict[str, Entry],
    landed: Path,
    landing: Path,
    progress: Progress,
    verify: bool,
) -> TransferOutcome:
    """Rule 1: an already landed transfer is skipped if unchanged, refused if not."""
    problem = _unsafe_entries(entries, None)
    if problem is not None:
        return _outcome(remote, rt, REFUSED, f"already landed; the server's copy now has {problem[1]}", problem[0])
    local = local_entries(landed)
    progress.start(rt.where, len(entries), sum(e.size for e in entries.values()))
    changed = [
        name for name, entry in sorted(entries.items()) if _differs(remote, rt, entry, landed, local, verify, progress)
    ]
    if not changed:
        return _outcome(remote, rt, SKIPPED, "already landed, same bytes")
    return _keep_aside(remote, rt, entries, changed, landing, progress)


def _keep_aside(remote, rt, entries, changed, landing, progress) -> TransferOutcome:
    """The landed copy stays; the server's differing copy goes to .refused/ once."""
    at = dt.datetime.now(dt.UTC)
    plans = [FilePlan(n, e, None) for n, e in sorted(entries.items())]
    previous = latest_kept_aside(landing, rt.study, rt.site, rt.transfer_id)
    if previous is not None:
        kept = local_entries(previous)
        if set(kept) == set(entries) and not any(
            _differs(remote, rt, e, previous, kept, False, progress) for e in entries.values()
        ):
            where = previous.relative_to(landing)
            return _outcome(
                remote,
                rt,
                REFUSED,
                f"{_names(changed)} differ(s) from the landed copy, which stays as it was; the server's copy was "
                f"kept aside before in {where}/. Ask the site to send changes as a new TRANSFER_ID",
                CHANGED_AFTER_LANDING,
                at=at,
            )
    folder = kept_aside_folder(landing, rt.study, rt.site, rt.transfer_id, at)
    files, size = copy_folder(remote, rt.path, plans, folder, progress, where=f"{rt.where} (kept aside)")
    return _outcome(
        remote,
        rt,
        REFUSED,
        f"{_names(changed)} differ(s) from the landed copy, which stays as it was; the server's copy is kept "
        f"aside in {folder.relative_to(landing)}/ for the data manager. Ask the site to send changes as a new "
        "TRANSFER_ID",
        CHANGED_AFTER_LANDING,
        files,
        size,
        at=at,
    )


def pull_transfer(
    remote: Remote, rt: RemoteTransfer, landing: Path, progress: Progress, verify: bool = False
) -> TransferOutcome:
    entries = remote.entries(rt.path)
    landed = landing / rt.study / rt.site / rt.transfer_id
    if os.path.lexists(landed):
        return check_landed(remote, rt, entries, landed, landing, progress, verify)
    unsafe = _unsafe_entries(entries, None)  # before anything is read: links are never opened
    if unsafe is not None:
        return _outcome(remote, rt, REFUSED, unsafe[1], unsafe[0])
    manifest_entry = entries.get(MANIFEST)
    if manifest_entry is None:
        return _outcome(remote, rt, INCOMPLETE, "no manifest.json yet (transfer still being written)")
    if manifest_entry.size > MAX_MANIFEST_BYTES:
        return _outcome(
            remote, rt, INCOMPLETE, f"manifest.json is {manifest_entry.size} bytes; too large to be a manifest"
        )
    data = remote.read_bytes(f"{rt.path}/{MANIFEST}", MAX_MANIFEST_BYTES)
    manifest, problem = parse_manifest(data)
    listed = manifest["files"] if manifest else None
    unsafe = _unsafe_entries({}, listed)
    if unsafe is not None:
        return _outcome(remote, rt, REFUSED, unsafe[1], unsafe[0])
    if problem is not None:
        return _outcome(remote, rt, INCOMPLETE, f"{problem[1]}; looked at again by the next pull")
    missing = [n for n in listed if n not in entries]
    if missing:
        return _outcome(remote, rt, INCOMPLETE, f"{_names(missing)} listed in manifest.json, not on the server yet")
    plans = [FilePlan(n, entries[n], listed[n]["sha256"]) for n in sorted(listed)]
    unlisted = [FilePlan(n, e, None) for n, e in sorted(entries.items()) if n not in listed and n != MANIFEST]
    try:
        files, size = copy_folder(
            remote, rt.path, plans + unlisted, landed, progress, manifest=(data, manifest_entry), where=rt.where
        )
    except ChecksumMismatch as exc:
        return _outcome(remote, rt, INCOMPLETE, f"{exc}: not landed, upload still in progress?")
    except ChangedDuringCopy as exc:
        return _outcome(remote, rt, INCOMPLETE, f"{exc}; not landed, looked at again by the next pull")
    note = (
        f"; also copied {_names(n.name for n in unlisted)}, not in manifest.json (the warehouse rejects the transfer)"
        if unlisted
        else ""
    )
    return _outcome(remote, rt, LANDED, f"verified against manifest.json{note}", files=files, size=size)
