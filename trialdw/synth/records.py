"""A generated record and how it looks in a transfer cut on a given day.

Every record is simulated once for the subject's whole course (up to the latest
cut) and then *rendered as of* each transfer's cut: a record dated on or after
the cut is not there yet, and a value that only became known later (an end
date, an outcome, a death) is still empty. That is what makes the transfers
cumulative snapshots with stable record keys.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class Record:
    domain: str
    row: dict[str, str]
    visible_from: dt.date  # in a transfer cut on C iff visible_from < C
    updates: list[tuple[dt.date, dict[str, str]]] = field(default_factory=list)

    def as_of(self, cut: dt.date) -> dict[str, str] | None:
        if self.visible_from >= cut:
            return None
        row = dict(self.row)
        for known_on, changes in sorted(self.updates, key=lambda u: u[0]):
            if known_on < cut:
                row.update(changes)
        return row


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""
