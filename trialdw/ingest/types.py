"""Plain data passed between the ingest steps (paths and counts, never DataFrames)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ACCEPTED = "accepted"
REJECTED = "rejected"
INCOMPLETE = "incomplete"
SUPERSEDED = "superseded"

# The finding row layout of docs/architecture.md, plus its stable id. VISIT and
# VISITNUM (as sent, where the domain has them) tell a data manager which visit a
# row finding is about without opening the file; NULL for other findings.
FINDING_COLUMNS = (
    "FINDING_ID",
    "STUDYID",
    "SITEID",
    "TRANSFER_ID",
    "DOMAIN",
    "USUBJID",
    "RECORD_KEY",
    "SOURCE_FILE",
    "SOURCE_LINE",
    "VISIT",
    "VISITNUM",
    "COLUMN_NAME",
    "VALUE",
    "RULE",
    "SEVERITY",
    "MESSAGE",
    "CATEGORY",
)


@dataclass(frozen=True)
class TransferRef:
    """One transfer folder found under the landing root.

    ``problem`` is set by discovery when the folder itself is unusable (bad name,
    symbolic link, no manifest): ``status`` is then ``rejected`` or ``incomplete``
    before any file is opened.
    """

    study: str
    site: str
    transfer_id: str
    path: Path
    status: str | None = None
    problem_rule: str | None = None
    problem: str | None = None

    @property
    def relpath(self) -> str:
        """Folder path relative to the landing root (what lineage columns show)."""
        return f"{self.study}/{self.site}/{self.transfer_id}"

    def source_file(self, name: str) -> str:
        return f"{self.relpath}/{name}"


@dataclass(frozen=True)
class FileInfo:
    """One file of a transfer: listed in the manifest, found in the folder, or both."""

    name: str
    domain: str | None
    sha256: str | None
    manifest_rows: int | None
    records: int | None  # data records counted by the CSV parser
    header: tuple[str, ...] = ()
    status: str = "ok"  # ok / rejected / unlisted / missing
    reason: str | None = None
    # csvnative.ParsedFile of an accepted transfer's file: its records, parsed once by
    # the transfer check, for row validation (a temporary file that lives as long as
    # the TransferCheck holding it).
    parsed: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TransferCheck:
    ref: TransferRef
    status: str  # accepted / rejected / incomplete
    reason: str | None
    findings: tuple[dict, ...] = ()
    files: tuple[FileInfo, ...] = ()
    manifest_sha256: str | None = None
    exported_at: str | None = None
    contract_versions: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


@dataclass(frozen=True)
class DomainOutput:
    domain: str
    file_name: str
    source_file: str
    valid_path: Path  # Parquet: contract columns (VARCHAR) + lineage
    quarantine_path: Path  # Parquet: audit.quarantine layout
    rows_sent: int
    rows_loaded: int
    rows_quarantined: int
    contract_version: str


@dataclass(frozen=True)
class ValidatedTransfer:
    ref: TransferRef
    check: TransferCheck
    domains: tuple[DomainOutput, ...]
    findings_path: Path  # Parquet: FINDING_COLUMNS, transfer + row findings

    def domain(self, name: str) -> DomainOutput:
        return next(d for d in self.domains if d.domain == name)


class ReconciliationError(RuntimeError):
    """Loaded + quarantined differs from sent: a bug, never a data problem."""


@dataclass
class IngestSummary:
    processed: list[tuple[str, str, str, str]] = field(default_factory=list)  # study, site, transfer, status
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # already recorded, same manifest
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # recorded id, different manifest
    rows_loaded: int = 0
    rows_quarantined: int = 0
    already_incomplete: bool = False  # an incomplete transfer seen by an earlier run: nothing new

    def add(self, other: IngestSummary) -> None:
        """Another transfer's summary into this one."""
        self.processed += other.processed
        self.skipped += other.skipped
        self.conflicts += other.conflicts
        self.rows_loaded += other.rows_loaded
        self.rows_quarantined += other.rows_quarantined
        self.already_incomplete = self.already_incomplete or other.already_incomplete

    def count(self, status: str) -> int:
        return sum(1 for p in self.processed if p[3] == status)
