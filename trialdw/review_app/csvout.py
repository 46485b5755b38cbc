"""findings.csv: every finding with its status and query state, for query management in a spreadsheet.

Formula-injection guard (OWASP "CSV injection"): a spreadsheet runs a cell that
starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a leading tab or
carriage return can hide such a character. Sites type free text (AETERM,
VALUE, MESSAGE quoting it), and data managers type comments, so every such
text cell is prefixed with a single quote ``'``: the spreadsheet then shows
the text as typed. The price: a negative number sent as text (VALUE ``-5``)
reads ``'-5`` in the file; numbers the warehouse itself writes (SOURCE_LINE)
are never touched. Encoding is UTF-8 with a byte-order mark so that Excel does
not guess a legacy code page for non-ASCII terms.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from trialdw.review_app.data import FINDING_FIELDS

CSV_COLUMNS = (
    "FINDING_ID",
    "STATUS",
    "STATE",
    "CHANGE",
    *[c for c in FINDING_FIELDS if c not in ("FINDING_ID", "STATUS")],
    "STATE_REASON",
    "QUERY_REF",
    "STATE_BY",
    "STATE_AT",
)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """The cell as a spreadsheet should show it: text that could start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def cell_text(value):
    """A value as both files write it: timestamps to the second (UTC), text formula-guarded."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return neutralise_formula(value)


def write_findings_csv(findings: list[dict], path: Path) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)  # RFC 4180 quoting; embedded line breaks stay inside quotes
        writer.writerow(CSV_COLUMNS)
        for finding in findings:
            writer.writerow(["" if finding.get(c) is None else cell_text(finding[c]) for c in CSV_COLUMNS])
    return path
