"""What the review page shows, read from a warehouse file (read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
PULL_FIELDS = (
    "RUN_ID",
    "STUDYID",
    "SITEID",
    "TRANSFER_ID",
    "SOURCE",
    "OUTCOME",
    "RULE",
    "REASON",
    "FILES",
    "BYTES",
    "PULLED_AT",
)
RECONCILIATION_FIELDS = ("STUDYID", "SITEID", "TRANSFER_ID", "DOMAIN", "ROWS_SENT", "ROWS_LOADED", "ROWS_QUARANTINED")
# A finding of a whole transfer or file has no domain; it is grouped under this label.
NO_DOMAIN = "(transfer)"
SEVERITY_ORDER = ("reject", "warning")


@dataclass(frozen=True)
class ReviewData:
    transfers: list[dict]  # TRANSFER_FIELDS + PULLED (where and when it was pulled, or None)
    reconciliation: list[dict]
    findings: list[dict]  # FINDING_FIELDS + CHANGE ("new" / "resolved" / "")
    changes: Changes
    pulls: list[dict] = field(default_factory=list)  # the newest pull's outcomes (PULL_FIELDS)


def _dicts(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def _has_pulls(con) -> bool:
    """Warehouses from before the pull existed have no audit.pulls."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'audit' AND table_name = 'pulls'"
        ).fetchone()[0]
    )


def read_pulls(con) -> tuple[list[dict], dict[tuple, str]]:
    """The newest pull's outcomes, and for every landed transfer where and when it
    was pulled (``"<source> at <time>"``)."""
    if not _has_pulls(con):
        return [], {}
    pulls = _dicts(
        con,
        f"""SELECT {", ".join(PULL_FIELDS)} FROM audit.pulls
            WHERE RUN_ID = (SELECT max(RUN_ID) FROM audit.pulls)
            ORDER BY OUTCOME = 'skipped', STUDYID NULLS FIRST, SITEID NULLS FIRST, TRANSFER_ID NULLS FIRST""",
    )
    landed = {
        (study, site, transfer): f"{source} at {when:%Y-%m-%d %H:%M:%S} UTC"
        for study, site, transfer, source, when in con.execute(
            """SELECT STUDYID, SITEID, TRANSFER_ID, arg_min(SOURCE, PULLED_AT), min(PULLED_AT)
               FROM audit.pulls WHERE OUTCOME = 'landed' GROUP BY ALL"""
        ).fetchall()
    }
    return pulls, landed


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
    pulls, landed = read_pulls(con)
    for transfer in transfers:
        transfer["PULLED"] = landed.get((transfer["STUDYID"], transfer["SITEID"], transfer["TRANSFER_ID"]))
    return ReviewData(transfers, reconciliation, findings, changes, pulls)
