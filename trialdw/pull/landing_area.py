"""The landing as the pull writes it: immutable once landed, never half-written.

``<landing>/<STUDYID>/<SITEID>/<TRANSFER_ID>/`` appears in one ``rename`` of a
finished hidden folder ``.<TRANSFER_ID>.partial-<pid>/`` (files fsync'ed and
read-only, the folder fsync'ed), then becomes read-only itself (0555) and its
parent is fsync'ed. Anything starting with '.' is invisible to the warehouse
(``trialdw.ingest.transfers.discover``), so a pull killed at any moment leaves
nothing the nightly run could load; the next pull removes the leftover.

Copies the pull refuses to land (a transfer changed on the server after it
landed) are kept for the data manager under
``<landing>/.refused/<STUDYID>/<SITEID>/<TRANSFER_ID>-<pulled at>/``, also
read-only.

One pull at a time per landing: an exclusive ``flock`` on
``<landing>/.trialdw-pull.lock`` (released by the kernel if the process dies), so
every ``.partial-*`` folder a pull finds is a leftover.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import shutil
import stat
from pathlib import Path

LOCK_NAME = ".trialdw-pull.lock"
REFUSED_DIR = ".refused"
PARTIAL_MARK = ".partial-"
READ_ONLY_FILE = 0o444
READ_ONLY_DIR = 0o555
KEPT_ASIDE_RE = re.compile(r"^(?P<tid>\d{8}T\d{6}Z)-(?P<at>\d{8}T\d{6}Z)(?:-\d+)?$")


class LandingBusy(RuntimeError):
    """Another pull holds the landing's lock."""


@contextlib.contextmanager
def landing_lock(landing: Path):
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise LandingBusy(
                f"another trialdw pull is writing {landing} (pid {holder}); try again when it has finished"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """``mkdir -p`` whose new entries survive a power cut (each parent fsync'ed)."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        fsync_dir(folder.parent)


def _writable_again(path: Path) -> None:
    """Read-only folders (a sealed partial) must be opened up before removal."""
    for folder in [path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())]:
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)


def remove_tree(path: Path) -> None:
    if not os.path.lexists(path):
        return
    _writable_again(path)
    shutil.rmtree(path, ignore_errors=True)


def partial_folder(final: Path) -> Path:
    """The hidden folder a transfer (or a kept-aside copy) is written into."""
    return final.parent / f".{final.name}{PARTIAL_MARK}{os.getpid()}"


def remove_leftovers(landing: Path) -> list[Path]:
    """Partial folders of killed pulls (call under ``landing_lock``)."""
    found = [
        *landing.glob(f"*/*/.*{PARTIAL_MARK}*"),
        *(landing / REFUSED_DIR).glob(f"*/*/.*{PARTIAL_MARK}*"),
    ]
    for path in found:
        remove_tree(path)
    return found


def seal_and_rename(partial: Path, final: Path) -> None:
    """Files read-only, folder flushed, renamed into place atomically, then the
    folder read-only and its parent flushed (the rename is on disk)."""
    for entry in partial.iterdir():
        os.chmod(entry, READ_ONLY_FILE)
    fsync_dir(partial)
    os.rename(partial, final)  # same folder: atomic; fails if final exists (a non-empty folder)
    os.chmod(final, READ_ONLY_DIR)
    fsync_dir(final.parent)


def local_entries(folder: Path) -> dict[str, os.stat_result]:
    """Regular files of a landed folder (lstat; links are not files here)."""
    found = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                found[entry.name] = info
    return found


def kept_aside_folder(landing: Path, study: str, site: str, transfer_id: str, when: dt.datetime) -> Path:
    """A new, unused ``.refused/<study>/<site>/<transfer_id>-<when>`` path."""
    base = landing / REFUSED_DIR / study / site
    stem = f"{transfer_id}-{when.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    path, n = base / stem, 1
    while os.path.lexists(path):
        n += 1
        path = base / f"{stem}-{n}"
    return path


def latest_kept_aside(landing: Path, study: str, site: str, transfer_id: str) -> Path | None:
    base = landing / REFUSED_DIR / study / site
    if not base.is_dir():
        return None
    copies = []
    for path in base.iterdir():
        match = KEPT_ASIDE_RE.match(path.name)
        if match and match["tid"] == transfer_id and path.is_dir():
            copies.append((path.stat().st_mtime_ns, path.name, path))
    return max(copies)[2] if copies else None
