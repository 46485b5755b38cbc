"""What a pull did with each transfer it looked at, and how that is reported.

Outcomes (docs/operations.md, "Pulling from sites"):

- ``landed``: copied, every file verified against its manifest, renamed into place.
- ``skipped``: already in the landing with the same bytes; nothing copied.
- ``incomplete``: no manifest yet, or the files do not match it yet (an upload in
  progress); left on the server, looked at again by the next pull. Not an error.
- ``refused``: will not land as it is, with a ``rule``: ``changed_after_landing``
  (the landed copy stays; the server's copy is kept aside under ``.refused/``),
  ``unsafe_name`` (a name that would leave the transfer folder), ``symlink``
  (never followed), ``not_a_file``, ``folder_name`` (not a TRANSFER_ID). Each
  refusal becomes a finding for the data managers.
- ``failed``: the source could not be pulled at all (host key, authentication,
  network after retries, a missing secret); nothing of it was copied.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field

LANDED = "landed"
SKIPPED = "skipped"
INCOMPLETE = "incomplete"
REFUSED = "refused"
FAILED = "failed"
OUTCOMES = (LANDED, SKIPPED, INCOMPLETE, REFUSED, FAILED)

# Rules of a refusal.
CHANGED_AFTER_LANDING = "changed_after_landing"
UNSAFE_NAME = "unsafe_name"
SYMLINK = "symlink"
NOT_A_FILE = "not_a_file"
FOLDER_NAME = "folder_name"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class TransferOutcome:
    """One row of ``audit.pulls``: a transfer (or, for ``failed`` and folder-level
    refusals, a source, study or site) and what the pull did with it."""

    source: str  # the URL without credentials
    study: str | None
    site: str | None
    transfer_id: str | None
    outcome: str
    rule: str | None = None
    reason: str | None = None
    files: int = 0
    bytes: int = 0
    pulled_at: dt.datetime = field(default_factory=now_utc)

    @property
    def where(self) -> str:
        parts = [p for p in (self.study, self.site, self.transfer_id) if p]
        return "/".join(parts) if parts else self.source

    def line(self) -> str:
        """One line for the terminal and the flow log. Names come from the sites'
        servers: control characters are shown escaped, never sent to a terminal."""
        text = f"{self.outcome:<10} {self.where}"
        if self.outcome == LANDED:
            text += f": {self.files} file(s), {human_bytes(self.bytes)}"
        if self.rule:
            text += f" [{self.rule}]"
        if self.reason:
            text += f": {self.reason}"
        return printable(text)

    def as_dict(self) -> dict:
        return {**asdict(self), "pulled_at": self.pulled_at.isoformat()}

    @classmethod
    def from_dict(cls, row: dict) -> TransferOutcome:
        return cls(**{**row, "pulled_at": dt.datetime.fromisoformat(row["pulled_at"])})


@dataclass
class PullReport:
    """Every outcome of one pull, in the order the transfers were looked at."""

    outcomes: list[TransferOutcome] = field(default_factory=list)

    def add(self, outcome: TransferOutcome) -> TransferOutcome:
        self.outcomes.append(outcome)
        return outcome

    def extend(self, other: PullReport) -> None:
        self.outcomes.extend(other.outcomes)

    def counts(self) -> dict[str, int]:
        found = Counter(o.outcome for o in self.outcomes)
        return {name: found.get(name, 0) for name in OUTCOMES}

    def of(self, outcome: str) -> list[TransferOutcome]:
        return [o for o in self.outcomes if o.outcome == outcome]

    def summary(self) -> str:
        """``2 landed, 5 skipped, 1 incomplete, 0 refused, 0 failed``."""
        return ", ".join(f"{n} {name}" for name, n in self.counts().items())

    def exit_code(self) -> int:
        """The CLI's: 1 a source could not be pulled, 2 refused transfers, else 0."""
        if self.of(FAILED):
            return 1
        return 2 if self.of(REFUSED) else 0

    def as_dict(self) -> dict:
        """JSON-able, for a Prefect task result and audit.runs DETAILS."""
        return {"counts": self.counts(), "outcomes": [o.as_dict() for o in self.outcomes]}

    @classmethod
    def from_dict(cls, data: dict) -> PullReport:
        return cls([TransferOutcome.from_dict(row) for row in data.get("outcomes", [])])


def printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover
