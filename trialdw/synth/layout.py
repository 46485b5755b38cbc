"""What a site export looks like: file columns, record keys, transfer cuts.

Columns come from the data contracts (which implement
``shared/spec/site-exports.md``), in the spec's order; the loader accepts any
order, we keep the spec's so a reviewer can compare a file with the spec line
by line.
"""

from __future__ import annotations

import datetime as dt

from trialdw.ingest.contracts import load_contracts

# File columns per domain, in the spec's order: the data contracts define them
# (data_contracts/<DOMAIN>.yml), so the generator writes exactly what the
# warehouse checks.
DOMAIN_COLUMNS: dict[str, tuple[str, ...]] = {
    domain: tuple(contract.column_names) for domain, contract in load_contracts().items()
}

# The latest transfer is cut on 2026-11-19 at 02:00 UTC; earlier ones every
# TRANSFER_SPACING_DAYS before it. A record dated on the cut day itself is not
# in that transfer (the export ran at 02:00, before the day's data entry).
LATEST_CUT = dt.date(2026, 11, 19)
TRANSFER_SPACING_DAYS = 122  # about four months
EXPORT_TIME = "020000"

# Enrolment opens here; subjects are enrolled over ENROLMENT_DAYS.
STUDY_START = dt.date(2025, 1, 6)
ENROLMENT_DAYS = 300


def transfer_cuts(transfers: int) -> list[dt.date]:
    """Cut dates, earliest first; the last one is LATEST_CUT."""
    if transfers < 1:
        raise ValueError("transfers must be >= 1")
    return [LATEST_CUT - dt.timedelta(days=TRANSFER_SPACING_DAYS * k) for k in range(transfers - 1, -1, -1)]


def transfer_id(cut: dt.date) -> str:
    return f"{cut:%Y%m%d}T{EXPORT_TIME}Z"


def exported_at(cut: dt.date) -> str:
    return f"{cut:%Y-%m-%d}T02:00:00Z"
