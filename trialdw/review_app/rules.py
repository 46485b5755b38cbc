"""The summary by rule, as Pinnacle 21's issue summary has it: what each rule found and
where its findings stand in the query workflow.

One SQL over any relation with RULE, SEVERITY, CATEGORY, DOMAIN, STUDYID, SITEID and
STATE, so the static page, findings.xlsx (both from the published file) and the served
app (live states) count the same way:

- OPEN: new or acknowledged (a data manager has to act),
- IN_QUERY: query raised or answered (waiting on, or just back from, the site),
- CLOSED: resolved by data or accepted as is,
- SITES_AFFECTED / SITES: sites (study/site) with findings of the rule that are not closed.
"""

from __future__ import annotations

RULE_SUMMARY_FIELDS = (
    "RULE",
    "SEVERITY",
    "CATEGORY",
    "DOMAINS",
    "FINDINGS",
    "OPEN",
    "IN_QUERY",
    "CLOSED",
    "SITES_AFFECTED",
    "SITES",
)


def rule_summary(con, source: str, params=None) -> list[dict]:
    """``source``: a table name or parenthesised SELECT (with ``params`` for its placeholders)."""
    cursor = con.execute(
        f"""SELECT RULE,
                   string_agg(DISTINCT SEVERITY, ', ' ORDER BY SEVERITY) AS SEVERITY,
                   string_agg(DISTINCT CATEGORY, ', ' ORDER BY CATEGORY) AS CATEGORY,
                   string_agg(DISTINCT coalesce(DOMAIN, '(transfer)'), ', ' ORDER BY coalesce(DOMAIN, '(transfer)'))
                       AS DOMAINS,
                   count(*) AS FINDINGS,
                   count(*) FILTER (STATE IN ('new', 'acknowledged')) AS OPEN,
                   count(*) FILTER (STATE IN ('query_raised', 'answered')) AS IN_QUERY,
                   count(*) FILTER (STATE = 'closed') AS CLOSED,
                   count(DISTINCT STUDYID || '/' || SITEID) FILTER (STATE <> 'closed') AS SITES_AFFECTED,
                   coalesce(string_agg(DISTINCT STUDYID || '/' || SITEID, ', ' ORDER BY STUDYID || '/' || SITEID)
                            FILTER (STATE <> 'closed'), '') AS SITES
            FROM {source} AS findings
            GROUP BY RULE
            ORDER BY OPEN + IN_QUERY DESC, OPEN DESC, FINDINGS DESC, RULE""",
        params or [],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
