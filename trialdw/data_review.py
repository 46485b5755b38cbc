"""Data-review findings into the data managers' audit trail.

dbt's ``data_review.findings`` lists cross-record problems in the current data
(investigator response vs RECIST, death dates, dates after death). Each site's
list is merged into ``audit.findings`` against the site's current transfer, with
the same identity recipe and life cycle as row findings: a problem that is gone
from the current data is resolved by the transfer that no longer has it.
"""

from __future__ import annotations

from trialdw.ingest.findings import REVIEW, WARNING, apply_findings, row_finding_id

DATA_REVIEW_FINDINGS = "data_review.findings"


def merge_review_findings(con, source: str = DATA_REVIEW_FINDINGS, studies: list[str] | None = None) -> int:
    """Merge the data-review findings dbt wrote (``source``, e.g. a build file's
    table attached to the history store's connection) into audit.findings, for
    ``studies`` (None: every study with a current transfer); returns the number merged.

    Only the studies a night built are merged: a study carried over or held back
    keeps the data-review findings of the build that was published."""
    listed = "TRUE" if studies is None else "list_contains(?, STUDYID)"
    params = [] if studies is None else [list(studies)]
    sites = con.execute(
        f"SELECT STUDYID, SITEID, TRANSFER_ID FROM audit.transfers WHERE CURRENT = 'Y' AND {listed} ORDER BY 1, 2",
        params,
    ).fetchall()
    rows = con.execute(
        f"""SELECT STUDYID, SITEID, DOMAIN, USUBJID, RECORD_KEY, COLUMN_NAME, VALUE, RULE, MESSAGE
            FROM {source} WHERE {listed} ORDER BY ALL""",
        params,
    ).fetchall()
    by_site: dict[tuple[str, str], list[dict]] = {}
    for study, site, domain, usubjid, key, column, value, rule, message in rows:
        by_site.setdefault((study, site), []).append(
            {
                "FINDING_ID": row_finding_id(study, site, domain, key, column, rule),
                "STUDYID": study,
                "SITEID": site,
                "DOMAIN": domain,
                "USUBJID": usubjid,
                "RECORD_KEY": key,
                "SOURCE_FILE": None,
                "SOURCE_LINE": None,
                "VISIT": None,  # not derived from the dbt review models (yet)
                "VISITNUM": None,
                "COLUMN_NAME": column,
                "VALUE": value,
                "RULE": rule,
                "SEVERITY": WARNING,
                "MESSAGE": message,
                "CATEGORY": REVIEW,
            }
        )
    for study, site, transfer_id in sites:
        findings = by_site.get((study, site), [])
        for finding in findings:
            finding["TRANSFER_ID"] = transfer_id
            finding["SOURCE_FILE"] = f"{study}/{site}/{transfer_id}/{finding['DOMAIN']}.csv"
        apply_findings(con, study, site, transfer_id, findings, categories=(REVIEW,))
    return len(rows)
