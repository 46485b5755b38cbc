"""What the review page shows, read from a warehouse file (read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trialdw.ingest.types import FINDING_COLUMNS
from trialdw.review_app.changes import Changes
from trialdw.warehouse import table_exists

# The finding's own columns (trialdw.ingest.types, the one layout) with its life cycle,
# in the order data managers read them (also the findings.csv layout after
# FINDING_ID/STATUS/CHANGE). The transfer a finding was seen in is told by the
# life-cycle columns, so TRANSFER_ID is left out.
FINDING_FIELDS = (
    "FINDING_ID",
    "STATUS",
    *(c for c in FINDING_COLUMNS if c not in ("FINDING_ID", "TRANSFER_ID")),
    "FIRST_SEEN_TRANSFER",
    "LAST_SEEN_TRANSFER",
    "RESOLVED_TRANSFER",
)
# The query workflow (trialdw.review_app.states), written onto audit.findings by the nightly run.
STATE_FIELDS = ("STATE", "STATE_REASON", "STATE_AT", "STATE_BY", "QUERY_REF")
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
# Findings in the order data managers read them: site -> domain -> rule, then where in the file.
FINDING_ORDER = (
    "STUDYID, SITEID, coalesce(DOMAIN, ''), RULE, SEVERITY, SOURCE_FILE, SOURCE_LINE NULLS FIRST, "
    "USUBJID, RECORD_KEY, COLUMN_NAME, FINDING_ID"
)


@dataclass(frozen=True)
class ReviewData:
    transfers: list[dict]  # TRANSFER_FIELDS + PULLED (where and when it was pulled, or None)
    reconciliation: list[dict]
    findings: list[dict]  # FINDING_FIELDS + STATE_FIELDS + CHANGE ("new" / "resolved" / "")
    changes: Changes
    rules: list[dict]  # summary by rule (trialdw.review_app.rules)
    pulls: list[dict] = field(default_factory=list)  # the newest pull's outcomes (PULL_FIELDS)


def dicts(con, sql: str, params=None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def has_state_columns(con, table: str = "audit.findings") -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "AND column_name = 'STATE'",
            [schema, name],
        ).fetchall()[0][0]
    )


def state_columns_sql(con) -> str:
    """The state columns of audit.findings, or what the nightly's first sync would record
    (resolved -> closed as resolved by data, open -> new) in a file written before it existed."""
    if has_state_columns(con):
        return ", ".join(STATE_FIELDS)
    return (
        "CASE WHEN STATUS = 'resolved' THEN 'closed' ELSE 'new' END AS STATE, "
        "CASE WHEN STATUS = 'resolved' THEN 'resolved_by_data' END AS STATE_REASON, "
        "CAST(NULL AS TIMESTAMP) AS STATE_AT, CAST(NULL AS VARCHAR) AS STATE_BY, CAST(NULL AS VARCHAR) AS QUERY_REF"
    )


def _has_pulls(con) -> bool:
    """Warehouses from before the pull existed have no audit.pulls."""
    return table_exists(con, "audit", "pulls")


def read_pulls(con) -> tuple[list[dict], dict[tuple, str]]:
    """The newest pull's outcomes, and for every landed transfer where and when it
    was pulled (``"<source> at <time>"``)."""
    if not _has_pulls(con):
        return [], {}
    pulls = dicts(
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
    from trialdw.review_app.rules import rule_summary

    transfers = dicts(
        con, f"SELECT {', '.join(TRANSFER_FIELDS)} FROM audit.transfers ORDER BY STUDYID, SITEID, TRANSFER_ID"
    )
    reconciliation = dicts(
        con,
        f"SELECT {', '.join(RECONCILIATION_FIELDS)} FROM audit.reconciliation "
        "ORDER BY STUDYID, SITEID, TRANSFER_ID, DOMAIN",
    )
    source = f"(SELECT {', '.join(FINDING_FIELDS)}, {state_columns_sql(con)} FROM audit.findings)"
    findings = dicts(con, f"SELECT * FROM {source} ORDER BY {FINDING_ORDER}")
    for finding in findings:
        finding["CHANGE"] = changes.change_of(finding["FINDING_ID"])
    pulls, landed = read_pulls(con)
    for transfer in transfers:
        transfer["PULLED"] = landed.get((transfer["STUDYID"], transfer["SITEID"], transfer["TRANSFER_ID"]))
    return ReviewData(transfers, reconciliation, findings, changes, rule_summary(con, source), pulls)
