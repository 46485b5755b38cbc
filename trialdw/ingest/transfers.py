"""Transfer-level checks: is a transfer folder complete, well-formed and what the
manifest says it is? Any failure rejects the whole transfer (nothing of it is
loaded) with findings that have no line (site-exports.md, "Validation outcomes").

Nothing outside a transfer folder is ever opened: manifest entries must be plain
file names, and symbolic links are reported, never followed.

Each data file is read once (csvnative.scan_file: a byte pass and one DuckDB parse,
the exact Python reader for any file that is not plainly well-formed). The parsed
records of an accepted transfer are kept in a temporary folder that lives as long
as its TransferCheck, so row validation does not read the CSV files again; a
rejected transfer's are removed at once.

A file (or the folder, or the manifest) the warehouse cannot read at all (an
``OSError`` such as a permission error) rejects the transfer with an
``unreadable`` finding instead of stopping the run. Such an error is usually the
landing zone's (permissions, a half-synced mount), not a defect of the site's
data, so ``landing.ingest_transfer`` checks a transfer rejected for it again on
the next run, instead of skipping it as already recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import stat
import tempfile
import threading
import weakref
from concurrent.futures import Future
from functools import partial
from pathlib import Path

from trialdw.ingest.csvfile import open_no_follow
from trialdw.ingest.csvnative import remove_parsed, scan_file
from trialdw.ingest.findings import REJECT, WARNING, transfer_finding
from trialdw.ingest.types import ACCEPTED, INCOMPLETE, REJECTED, FileInfo, TransferCheck, TransferRef
from trialdw.parallel import thread_pool

MANIFEST = "manifest.json"
TRANSFER_ID_RE = re.compile(r"^\d{8}T\d{6}Z$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MANIFEST_FIELDS = ("study", "site", "transfer_id", "exported_at", "files")
MAX_MANIFEST_BYTES = 1 << 20  # a manifest is a few hundred bytes; refuse to read a huge one
UNREADABLE = "unreadable"
# Files of a transfer read at once (byte scan + DuckDB parse, csvnative.scan_file):
# hashing, numpy and DuckDB release the GIL, and most files are too small for
# DuckDB to split, so one file at a time left a core idle while the check ran.
READ_AHEAD_FILES = 2


def unreadable_message(what: str, exc: OSError) -> str:
    return (
        f"{what} cannot be read by the warehouse ({exc.strerror or exc}); nothing of the transfer is "
        f"loaded. This is a landing-zone problem, not a data defect: the transfer is checked again "
        f"on the next run"
    )


def _manifest_present(folder: Path) -> bool:
    """Is there a manifest entry? A folder we may not look into counts as complete, so
    that check_transfer reports it as unreadable instead of it waiting forever as
    'incomplete' (os.path.lexists says False for both)."""
    try:
        os.lstat(folder / MANIFEST)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def is_transfer_id(name: str) -> bool:
    """``YYYYMMDDTHHMMSSZ`` and a real UTC time."""
    if not TRANSFER_ID_RE.match(name):
        return False
    try:
        dt.datetime.strptime(name, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    return True


def _subdirs(folder: Path):
    """Entries of a folder, sorted, without following symbolic links."""
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda e: e.name)


def _visible(folder: Path):
    """Entries of a landing folder that are not hidden. A name starting with '.' is
    never a study, site or transfer: it is work in progress (``trialdw pull`` copies
    into ``.<TRANSFER_ID>.partial-<pid>/`` and keeps refused copies under ``.refused/``)
    or an uploader's temporary file."""
    return [e for e in _subdirs(folder) if not e.name.startswith(".")]


def discover(landing: Path) -> list[TransferRef]:
    """Every transfer folder ``<landing>/<STUDYID>/<SITEID>/<TRANSFER_ID>/``.

    Sorted by study, site, TRANSFER_ID. A folder without ``manifest.json`` is
    ``incomplete`` (still being written). A folder whose name is not a
    TRANSFER_ID, or that is a symbolic link, is ``rejected`` here already.
    Study and site folders that are symbolic links are not entered. Files lying
    at study or site level are ignored (they are not transfers), and so are names
    starting with '.' at every level (see ``_visible``).
    """
    landing = Path(landing)
    refs: list[TransferRef] = []
    for study in _visible(landing):
        if not study.is_dir(follow_symlinks=False):
            continue
        for site in _visible(Path(study.path)):
            if not site.is_dir(follow_symlinks=False):
                continue
            for folder in _visible(Path(site.path)):
                path = Path(folder.path)
                base = {"study": study.name, "site": site.name, "transfer_id": folder.name, "path": path}
                if folder.is_symlink():
                    refs.append(
                        TransferRef(
                            **base,
                            status=REJECTED,
                            problem_rule="symlink",
                            problem=f"transfer folder {folder.name} is a symbolic link; it is not followed",
                        )
                    )
                elif not folder.is_dir(follow_symlinks=False):
                    continue
                elif not is_transfer_id(folder.name):
                    refs.append(
                        TransferRef(
                            **base,
                            status=REJECTED,
                            problem_rule="folder_name",
                            problem=f"folder name {folder.name!r} is not a TRANSFER_ID (YYYYMMDDTHHMMSSZ)",
                        )
                    )
                elif not _manifest_present(path):
                    refs.append(
                        TransferRef(
                            **base, status=INCOMPLETE, problem="no manifest.json yet (transfer still being written)"
                        )
                    )
                else:
                    refs.append(TransferRef(**base))
    return sorted(refs, key=lambda r: (r.study, r.site, r.transfer_id))


def is_plain_name(name: str) -> bool:
    """A file name that stays in its folder: no path separator, not '.' or '..'."""
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
        and os.path.basename(name) == name
    )


class _Collector:
    """Findings and file infos of one transfer check."""

    def __init__(self, ref: TransferRef, parse_dir: Path | None = None, same_files=None):
        self.ref = ref
        self.same_files = same_files
        self.findings: list[dict] = []
        self.files: dict[str, FileInfo] = {}
        self._parse_dir = parse_dir
        self._parsed_dir: Path | None = None
        self._reading: dict[str, Future] = {}
        self._lock = threading.Lock()

    def read_ahead(self, names: list[tuple[str, str]]) -> None:
        """Start reading these (file name, domain) pairs, READ_AHEAD_FILES at a
        time; ``scan`` gives each one's result, in whatever order it is asked."""
        readers = thread_pool("read", READ_AHEAD_FILES)
        for name, domain in names:
            self._reading[name] = readers.submit(self._scan, name, domain)

    def scan(self, name: str, domain: str):
        """csvnative.scan_file of one file (its CsvScan; raises OSError), read ahead or now."""
        reading = self._reading.pop(name, None)
        return reading.result() if reading is not None else self._scan(name, domain)

    def _scan(self, name: str, domain: str):
        skip_parse = None
        if self.same_files is not None:
            skip_parse = partial(self.same_files.validated, self.ref.study, self.ref.site, domain)
        return scan_file(self.ref.path / name, self.parsed_path(name), skip_parse)

    def finish_reading(self) -> None:
        """Files read ahead and never asked for (the check ended early): those not
        started are dropped, running ones waited for, so nothing writes into the
        check's folder after it returns."""
        for reading in self._reading.values():
            reading.cancel()
        for reading in self._reading.values():
            if not reading.cancelled():
                reading.exception()
        self._reading.clear()

    def parsed_path(self, name: str) -> Path:
        """Where a file's parsed records go (a temporary folder of this check,
        under ``parse_dir`` when given)."""
        with self._lock:  # files are read on two threads (read_ahead): one folder
            if self._parsed_dir is None:
                if self._parse_dir is not None:
                    Path(self._parse_dir).mkdir(parents=True, exist_ok=True)
                self._parsed_dir = Path(tempfile.mkdtemp(prefix="trialdw-parsed-", dir=self._parse_dir))
        return self._parsed_dir / f"{name}.arrow"

    def add(self, file_name, rule, message, *, severity=REJECT, domain=None, value=None, column=None):
        self.findings.append(
            transfer_finding(
                self.ref, file_name, rule, message, severity=severity, domain=domain, value=value, column=column
            )
        )

    @property
    def rejected(self) -> bool:
        return any(f["SEVERITY"] == REJECT for f in self.findings)

    def result(self, manifest_sha256=None, exported_at=None, versions=None) -> TransferCheck:
        rejects = [f for f in self.findings if f["SEVERITY"] == REJECT]
        reason = None
        if rejects:
            reason = rejects[0]["MESSAGE"]
            if len(rejects) > 1:
                reason += f" (and {len(rejects) - 1} more problem{'s' if len(rejects) > 2 else ''})"
        files = [self.files[k] for k in sorted(self.files)]
        if rejects:  # nothing of it is validated: drop the parsed records now
            files = [dataclasses.replace(f, parsed=None) for f in files]
        check = TransferCheck(
            ref=self.ref,
            status=REJECTED if rejects else ACCEPTED,
            reason=reason,
            findings=tuple(self.findings),
            files=tuple(files),
            manifest_sha256=manifest_sha256,
            exported_at=exported_at,
            contract_versions=versions or {},
        )
        if self._parsed_dir is not None:
            if rejects:
                remove_parsed(self._parsed_dir)
            else:  # the parsed records live as long as the check (and are gone at exit)
                weakref.finalize(check, remove_parsed, self._parsed_dir)
        return check


def parse_manifest(data: bytes) -> tuple[dict | None, tuple[str, str] | None]:
    """A manifest's bytes as a dict, or None and the (rule, message) of the first
    shape problem: not JSON, not an object, a field missing, a files entry without
    a 64-hex sha256 and a whole-number rows. Agreement with a folder is the caller's.

    Pure (no file access), so the pull from the sites' drop zones judges a remote
    manifest by exactly the rules the warehouse applies to a landed one.
    """
    try:
        manifest = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, ("manifest_json", f"manifest.json is not valid JSON ({exc})")
    if not isinstance(manifest, dict):
        return None, ("manifest_json", "manifest.json is not a JSON object")
    missing = [k for k in MANIFEST_FIELDS if manifest.get(k) in (None, "")]
    if missing:
        return None, ("manifest_fields", f"manifest.json lacks the field(s) {', '.join(missing)}")
    if not isinstance(manifest["files"], dict):
        return None, ("manifest_fields", "manifest.json 'files' is not an object of file name → {sha256, rows}")
    bad = []
    for name, entry in manifest["files"].items():
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and SHA256_RE.match(entry["sha256"].lower() if isinstance(entry.get("sha256"), str) else "")
            and isinstance(entry.get("rows"), int)
            and not isinstance(entry.get("rows"), bool)
            and entry["rows"] >= 0
        )
        if not ok:
            bad.append(name)
    if bad:
        return None, (
            "manifest_fields",
            f"manifest.json entries need a 64-hex sha256 and a whole-number rows: {', '.join(map(repr, bad))}",
        )
    return manifest, None


def _read_manifest(c: _Collector) -> tuple[dict | None, str | None]:
    """The manifest as a dict (None when unusable, with findings) and its sha256."""
    path = c.ref.path / MANIFEST
    try:
        info = os.lstat(path)
    except OSError as exc:
        c.add(MANIFEST, UNREADABLE, unreadable_message(MANIFEST, exc))
        return None, None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        c.add(
            MANIFEST,
            "symlink" if stat.S_ISLNK(info.st_mode) else "manifest_invalid",
            "manifest.json is a symbolic link; it is not followed"
            if stat.S_ISLNK(info.st_mode)
            else "manifest.json is not a regular file",
        )
        return None, None
    if info.st_size > MAX_MANIFEST_BYTES:
        c.add(MANIFEST, "manifest_invalid", f"manifest.json is {info.st_size} bytes; too large to be a manifest")
        return None, None
    try:
        with os.fdopen(open_no_follow(path), "rb") as handle:
            data = handle.read()
    except OSError as exc:
        c.add(MANIFEST, UNREADABLE, unreadable_message(MANIFEST, exc))
        return None, None
    digest = hashlib.sha256(data).hexdigest()
    manifest, problem = parse_manifest(data)
    if problem is not None:
        c.add(MANIFEST, *problem)
        return None, digest
    for key, expected in (("study", c.ref.study), ("site", c.ref.site), ("transfer_id", c.ref.transfer_id)):
        if str(manifest[key]) != expected:
            c.add(
                MANIFEST,
                "manifest_mismatch",
                f"manifest.json says {key} {manifest[key]!r} but the folder is {expected!r}",
                column=key,
                value=str(manifest[key]),
            )
    return manifest, digest


def check_transfer(
    ref: TransferRef, study, contracts: dict, parse_dir: Path | None = None, same_files=None
) -> TransferCheck:
    """All transfer-level checks of one transfer folder.

    ``study`` is the StudyConfig of ``ref.study`` or None when the study folder is
    not configured. Returns status ``accepted``, ``rejected`` or ``incomplete``.
    Every file is checked even after a first problem, so the site gets the whole
    list at once.

    ``parse_dir``: where the parsed records are kept while the check lives (the
    night passes its work folder, which the next run clears: a night killed
    mid-ingest leaves nothing behind elsewhere); None: the system's temp folder.
    ``same_files``: the ingest's trialdw.ingest.same_files.ValidatedFiles: a file
    whose bytes the site's previous transfer sent and the ingest validated is
    checked without parsing its records (validation will give that outcome again).
    """
    c = _Collector(ref, parse_dir, same_files)
    if ref.status == INCOMPLETE:
        return TransferCheck(ref=ref, status=INCOMPLETE, reason=ref.problem)
    if ref.status == REJECTED:
        c.add(None, ref.problem_rule, ref.problem)
        return c.result()
    if study is None:
        c.add(None, "study_not_configured", f"study {ref.study} is not configured (no studies/*.yml names it)")
        return c.result()

    manifest, manifest_sha = _read_manifest(c)
    if manifest is None:
        return c.result(manifest_sha)
    exported_at = str(manifest["exported_at"])
    listed: dict = manifest["files"]

    allowed = {f"{d}.csv": d for d in study.domains if d in contracts}
    try:
        present = {e.name: e for e in _subdirs(ref.path) if e.name != MANIFEST}
    except OSError as exc:
        c.add(None, UNREADABLE, unreadable_message(f"transfer folder {ref.transfer_id}", exc))
        return c.result(manifest_sha, exported_at)

    for name, entry in present.items():
        if entry.is_symlink():
            c.add(name, "symlink", f"{name} is a symbolic link; it is not followed")
            c.files[name] = FileInfo(
                name, allowed.get(name), None, None, None, status="rejected", reason="symbolic link"
            )
        elif name not in listed:
            kind = "folder" if entry.is_dir(follow_symlinks=False) else "file"
            c.add(name, "file_unlisted", f"{kind} {name} is in the transfer folder but not in manifest.json")
            c.files[name] = FileInfo(
                name, allowed.get(name), None, None, None, status="unlisted", reason="not in manifest"
            )

    c.read_ahead(
        [
            (name, allowed[name])
            for name in listed
            if is_plain_name(name)
            and name in allowed
            and name in present
            and present[name].is_file(follow_symlinks=False)
        ]
    )
    try:
        _check_listed(c, study, listed, present, allowed, contracts)
    finally:
        c.finish_reading()

    if "DM.csv" not in listed:
        c.add("DM.csv", "file_missing", "DM.csv is not in the transfer; every other domain depends on it", domain="DM")
    for name, domain in allowed.items():
        if name not in listed and domain != "DM":
            c.add(
                name,
                "domain_absent",
                f"{name} is not in this transfer: the site's {domain} data will be empty until a transfer sends it",
                severity=WARNING,
                domain=domain,
            )
    versions = {
        info.domain: contracts[info.domain].version
        for info in c.files.values()
        if info.domain in contracts and info.status == "ok"
    }
    return c.result(manifest_sha, exported_at, versions)


def _check_listed(c: _Collector, study, listed: dict, present: dict, allowed: dict, contracts: dict) -> None:
    """Every file the manifest lists, in its order (so are the findings)."""
    for name, entry in listed.items():
        rows = entry["rows"]
        if not is_plain_name(name):
            c.add(
                name,
                "unsafe_path",
                f"manifest entry {name!r} is not a plain file name in the transfer folder",
                value=name,
            )
            continue
        domain = allowed.get(name)
        if name not in present:
            c.add(name, "file_missing", f"{name} is listed in manifest.json but missing", domain=domain)
            c.files[name] = FileInfo(name, domain, None, rows, None, status="missing", reason="listed, missing")
            continue
        if name in c.files:  # symlink, already reported
            continue
        if not present[name].is_file(follow_symlinks=False):
            c.add(name, "unsafe_path", f"{name} is not a regular file", value=name)
            continue
        if domain is None:
            c.add(
                name,
                "unknown_file",
                f"{name} is not a domain file of study {study.study} "
                f"(expected some of {', '.join(sorted(allowed))}; names are case-sensitive)",
            )
            c.files[name] = FileInfo(name, None, None, rows, None, status="rejected", reason="unknown file")
            continue
        c.files[name] = _check_file(c, name, domain, entry, contracts[domain])


def _check_file(c: _Collector, name: str, domain: str, entry: dict, contract) -> FileInfo:
    try:
        scan = c.scan(name, domain)
    except OSError as exc:
        c.add(name, UNREADABLE, unreadable_message(name, exc), domain=domain)
        return FileInfo(name, domain, None, entry["rows"], None, status="rejected", reason="cannot be read")
    problems: list[str] = []

    def reject(rule, message, **kw):
        c.add(name, rule, message, domain=domain, **kw)
        problems.append(message)

    if scan.sha256 != entry["sha256"].lower():
        reject("checksum", f"{name} sha256 is {scan.sha256[:12]}…, manifest.json says {entry['sha256'][:12]}…")
    for problem in scan.problems:
        reject(problem.rule, problem.message)
    structural = any(p.rule in ("encoding", "empty_file", "csv_syntax", "truncated") for p in scan.problems)
    if not structural and scan.records != entry["rows"]:
        reject(
            "row_count",
            f"{name} has {scan.records} records, manifest.json says {entry['rows']}",
            value=str(scan.records),
        )
    header = scan.header or ()
    if header and not any(p.rule == "separator" for p in scan.problems):
        _check_header(c, name, domain, header, contract, reject)
    return FileInfo(
        name,
        domain,
        scan.sha256,
        entry["rows"],
        scan.records,
        header,
        status="rejected" if problems else "ok",
        reason=problems[0] if problems else None,
        parsed=None if problems else scan.parsed,
    )


def _check_header(c: _Collector, name: str, domain: str, header, contract, reject) -> None:
    seen, duplicated = set(), []
    for column in header:
        if column in seen:
            duplicated.append(column)
        seen.add(column)
    if duplicated:
        reject("duplicate_column", f"{name} header repeats column(s) {', '.join(duplicated)}")
    if any(col == "" for col in header):
        reject("header", f"{name} header has an empty column name")
    upper = {col.upper(): col for col in header}
    for column in contract.required_columns:
        if column not in seen:
            hint = f" (header has {upper[column]!r}; names are case-sensitive)" if column in upper else ""
            reject("missing_column", f"{name} lacks required column {column}{hint}", column=column)
    absent = [col.name for col in contract.columns if not col.required and col.name not in seen]
    if absent:
        # Allowed by the spec, but a silently missing optional column (AEENDTC, DTHDTC …)
        # changes what the data means, so the data manager hears about it.
        c.add(
            name,
            "column_absent",
            f"{name} has no optional column(s) {', '.join(absent)}; they load as empty",
            severity=WARNING,
            domain=domain,
            column=",".join(absent),
        )
