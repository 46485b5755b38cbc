"""Which transfer folders a source holds: ``<root>/<STUDYID>/<SITEID>/<TRANSFER_ID>/``.

Only the studies (and sites) the source is configured for are entered. Names
starting with '.' are an uploader's work in progress and are passed over
silently at every level (as ``discover`` does in the landing). A study, site or
transfer folder that is a symbolic link is refused (never followed), and so is a
folder whose name cannot become a landing folder; files lying between the folders
are not transfers and are passed over.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from trialdw.ingest.transfers import is_transfer_id
from trialdw.pull.outcomes import FOLDER_NAME, REFUSED, SYMLINK, UNSAFE_NAME, TransferOutcome
from trialdw.pull.remote import Entry, Remote
from trialdw.study_config import STUDYID_RE


@dataclass(frozen=True)
class RemoteTransfer:
    study: str
    site: str
    transfer_id: str
    path: str  # the folder on the source

    @property
    def where(self) -> str:
        return f"{self.study}/{self.site}/{self.transfer_id}"


def _visible(remote: Remote, path: str) -> list[Entry]:
    return [e for _, e in sorted(remote.entries(path).items()) if not e.name.startswith(".")]


def _refused(remote: Remote, rule: str, reason: str, study=None, site=None, transfer_id=None) -> TransferOutcome:
    return TransferOutcome(remote.source.display, study, site, transfer_id, REFUSED, rule, reason)


def _folder_problem(remote: Remote, entry: Entry, what: str, **where) -> TransferOutcome | None:
    if entry.kind == "link":
        return _refused(remote, SYMLINK, f"{what} folder {entry.name} is a symbolic link; it is not followed", **where)
    if entry.kind == "directory" and not STUDYID_RE.match(entry.name):
        return _refused(
            remote, UNSAFE_NAME, f"{what} folder {entry.name!r} is not a plain folder name; not entered", **where
        )
    return None


def walk(remote: Remote) -> Iterator[RemoteTransfer | TransferOutcome]:
    """Transfer folders to look at, and refusals of folders that are not, sorted."""
    source = remote.source
    for study in _visible(remote, source.root):
        if study.kind not in ("directory", "link") or not source.wants(study.name):
            continue
        if problem := _folder_problem(remote, study, "study", study=study.name):
            yield problem
            continue
        for site in _visible(remote, remote.join(study.name)):
            if site.kind not in ("directory", "link") or not source.wants(study.name, site.name):
                continue
            if problem := _folder_problem(remote, site, "site", study=study.name, site=site.name):
                yield problem
                continue
            site_path = remote.join(study.name, site.name)
            for folder in _visible(remote, site_path):
                where = {"study": study.name, "site": site.name, "transfer_id": folder.name}
                if folder.kind == "link":
                    reason = f"transfer folder {folder.name} is a symbolic link; it is not followed"
                    yield _refused(remote, SYMLINK, reason, **where)
                elif folder.kind != "directory":
                    continue
                elif not is_transfer_id(folder.name):
                    reason = f"folder name {folder.name!r} is not a TRANSFER_ID (YYYYMMDDTHHMMSSZ)"
                    yield _refused(remote, FOLDER_NAME, reason, **where)
                else:
                    yield RemoteTransfer(study.name, site.name, folder.name, f"{site_path}/{folder.name}")
