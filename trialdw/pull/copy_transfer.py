"""Copy one transfer folder into the landing: complete and intact, or not at all.

Each file is streamed once: hashed while it is written (never read twice), fsync'ed,
given the server's modification time (the next pull's quick "same bytes?" check
compares size and time before it re-reads anything). A listed file whose sha256
differs from the manifest stops the copy (``ChecksumMismatch``: an upload still
in progress). The manifest is written last. Before the rename the server's folder
is listed again: a file that changed or became a link meanwhile stops the copy
too. On any failure the hidden partial folder is removed; a kill leaves it for
the next pull to remove (``landing_area``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from trialdw.ops import testhook
from trialdw.pull.landing_area import make_dirs, partial_folder, remove_tree, seal_and_rename
from trialdw.pull.progress import Progress
from trialdw.pull.remote import Entry, Remote

# Reads ask for what the listing says is left, at most 1 MiB: larger reads are not
# faster over SFTP (measured: ~60 MB/s on loopback for 256 KiB to 16 MiB), and a read
# reaching past the end costs a round of requests per file (30 ms for a small file).
CHUNK = 1 << 20
EOF_PROBE = 1 << 16  # the read that confirms the end (or finds the file grew)


class ChecksumMismatch(Exception):
    def __init__(self, name: str, got: str, expected: str):
        super().__init__(f"{name} sha256 is {got[:12]}…, manifest.json says {expected[:12]}…")
        self.name = name


class ChangedDuringCopy(Exception):
    """The server's folder changed while it was copied (an upload going on)."""


@dataclass(frozen=True)
class FilePlan:
    name: str
    entry: Entry
    sha256: str | None  # from the manifest; None for a file the manifest does not list


def stream_file(remote: Remote, path: str, size: int, progress: Progress, write=None) -> tuple[str, int]:
    """sha256 and byte count of a remote file, each chunk also given to ``write``."""
    digest, count = hashlib.sha256(), 0
    with remote.open(path) as source:
        while chunk := source.read(min(CHUNK, size - count) if count < size else EOF_PROBE):
            digest.update(chunk)
            if write is not None:
                write(chunk)
            count += len(chunk)
            progress.advance(len(chunk))
            if count < size:
                testhook.pause_here("pull")  # test-only: killed mid-file
    return digest.hexdigest(), count


def _copy_file(remote: Remote, remote_dir: str, plan: FilePlan, target: Path, progress: Progress) -> int:
    # O_EXCL | O_NOFOLLOW: a fresh file in our own hidden folder, never through a link.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        sha, count = stream_file(remote, f"{remote_dir}/{plan.name}", plan.entry.size, progress, handle.write)
        handle.flush()
        os.fsync(handle.fileno())
    if plan.sha256 is not None and sha != plan.sha256.lower():
        raise ChecksumMismatch(plan.name, sha, plan.sha256)
    if count != plan.entry.size:
        raise ChangedDuringCopy(f"{plan.name} was {plan.entry.size} bytes when listed, {count} when read")
    _set_mtime(target, plan.entry)
    progress.file_done()
    return count


def _set_mtime(target: Path, entry: Entry) -> None:
    if entry.mtime is not None:
        os.utime(target, (entry.mtime, entry.mtime), follow_symlinks=False)


def _write_manifest(target: Path, data: bytes, entry: Entry) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _set_mtime(target, entry)


def _confirm_unchanged(remote: Remote, remote_dir: str, plans: list[FilePlan]) -> None:
    now = remote.entries(remote_dir)
    for plan in plans:
        entry = now.get(plan.name)
        if entry is None or entry.kind != "file" or entry.size != plan.entry.size:
            raise ChangedDuringCopy(f"{plan.name} changed on the server while it was copied")


def copy_folder(
    remote: Remote,
    remote_dir: str,
    plans: list[FilePlan],
    final: Path,
    progress: Progress,
    *,
    manifest: tuple[bytes, Entry] | None = None,
    where: str = "",
) -> tuple[int, int]:
    """Copy ``plans`` (then the manifest bytes, if given) into ``final`` atomically.
    Returns (files, bytes) landed."""
    make_dirs(final.parent)
    partial = partial_folder(final)
    remove_tree(partial)  # a leftover of this very pid (pid reuse): nothing of ours
    partial.mkdir(mode=0o700)
    progress.start(where, len(plans) + (manifest is not None), sum(p.entry.size for p in plans))
    try:
        total = sum(_copy_file(remote, remote_dir, plan, partial / plan.name, progress) for plan in plans)
        files = len(plans)
        if manifest is not None:
            data, entry = manifest
            _write_manifest(partial / "manifest.json", data, entry)
            total, files = total + len(data), files + 1
        _confirm_unchanged(remote, remote_dir, plans)
        seal_and_rename(partial, final)
    except BaseException:
        remove_tree(partial)
        raise
    return files, total
