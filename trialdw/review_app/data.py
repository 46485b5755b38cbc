"""What the review page shows, read from a warehouse file (read-only)."""

from __future__ import annotations

from dataclasses import dataclass

from trialdw.review_app.changes import Changes

# Life-cycle and location columns, in the order data managers read them
# (also the findings.csv layout after FINDING_ID/STATUS/CHANGE).
FINDING_FIELDS = (
    "FINDING_ID",
    "STATUS",
    "STUDYID",
    "SITEID",
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
    "CATEGORY",
    "MESSAGE",
    "FIRST_SEEN_TRANSFER",
    "LAST_SEEN_TRANSFER",
    "RESOLVED_TRANSFER",
)
TRANSFER_FIELDS = ("STUDYID", "SITEID", "TRANSFER_ID", "STATUS", "CURRENT", "REASON", "RECEIVED_AT", "RUN_ID")
RECONCILIATION_FIELDS = ("STUDYID", "SITEID", "TRANSFER_ID", "DOMAIN", "ROWS_SENT", "ROWS_LOADED", "ROWS_QUARANTINED")
# A finding of a whole transfer or file has no domain; it is grouped under this label.
NO_DOMAIN = "(transfer)"
SEVERITY_ORDER = ("reject", "warning")


@dataclass(frozen=True)
class ReviewData:
    transfers: list[dict]
    reconciliation: list[dict]
    findings: list[dict]  # FINDING_FIELDS + CHANGE ("new" / "resolved" / "")
    changes: Changes


def _dicts(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def read_review_data(con, changes: Changes) -> ReviewData:
    transfers = _dicts(
        con, f"SELECT {', '.join(TRANSFER_FIELDS)} FROM audit.transfers ORDER BY STUDYID, SITEID, TRANSFER_ID"
    )
    reconciliation = _dicts(
        con,
        f"SELECT {', '.join(RECONCILIATION_FIELDS)} FROM audit.reconciliation "
        "ORDER BY STUDYID, SITEID, TRANSFER_ID, DOMAIN",
    )
    # Site -> domain -> rule, then where in the file; reject before warning.
    findings = _dicts(
        con,
        f"""SELECT {", ".join(FINDING_FIELDS)} FROM audit.findings
        ORDER BY STUDYID, SITEID, coalesce(DOMAIN, ''), RULE, SEVERITY, SOURCE_FILE, SOURCE_LINE NULLS FIRST,
                 USUBJID, RECORD_KEY, COLUMN_NAME, FINDING_ID""",
    )
    for finding in findings:
        finding["CHANGE"] = changes.change_of(finding["FINDING_ID"])
    return ReviewData(transfers, reconciliation, findings, changes)
