"""findings.xlsx: the findings of findings.csv as a workbook a data manager can filter at once.

Sheet "Findings": one row per finding (the columns of findings.csv), header frozen,
autofilter on every column, widths set for reading. Sheet "Summary by rule": the
issue summary (trialdw.review_app.rules). Every text cell is written as a string,
never as a formula (``strings_to_formulas`` off), and text that a spreadsheet
would start a formula with gets the same leading ``'`` as in findings.csv, so a
copy back to CSV stays harmless too. Written in xlsxwriter's constant-memory mode:
50,000 findings do not sit in memory twice.
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from trialdw.review_app.csvout import CSV_COLUMNS, cell_text
from trialdw.review_app.rules import RULE_SUMMARY_FIELDS

WIDTHS = {  # characters; the rest get DEFAULT_WIDTH
    "FINDING_ID": 18,
    "STATE": 13,
    "CHANGE": 9,
    "STUDYID": 15,
    "SITEID": 7,
    "DOMAIN": 8,
    "USUBJID": 24,
    "RECORD_KEY": 24,
    "SOURCE_FILE": 42,
    "SOURCE_LINE": 7,
    "COLUMN_NAME": 14,
    "VALUE": 28,
    "RULE": 22,
    "MESSAGE": 60,
    "STATE_REASON": 17,
    "STATE_AT": 20,
    "DOMAINS": 18,
    "SITES": 40,
}
DEFAULT_WIDTH = 12


def _sheet(workbook, name: str, columns, rows, header_format) -> None:
    sheet = workbook.add_worksheet(name)
    for i, column in enumerate(columns):
        sheet.set_column(i, i, WIDTHS.get(column, DEFAULT_WIDTH))
    sheet.freeze_panes(1, 0)
    sheet.write_row(0, 0, columns, header_format)
    n = 0
    for n, row in enumerate(rows, start=1):
        for i, column in enumerate(columns):
            value = row.get(column)
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                sheet.write_string(n, i, str(value))
            elif isinstance(value, (int, float)):
                sheet.write_number(n, i, value)
            else:
                sheet.write_string(n, i, str(cell_text(value)))
    sheet.autofilter(0, 0, max(n, 1), len(columns) - 1)


def write_findings_xlsx(findings: list[dict], rules: list[dict], path: Path) -> Path:
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    header = workbook.add_format({"bold": True, "bg_color": "#F3F3F7", "bottom": 1})
    _sheet(workbook, "Findings", CSV_COLUMNS, findings, header)
    _sheet(workbook, "Summary by rule", RULE_SUMMARY_FIELDS, rules, header)
    workbook.close()
    return Path(path)
