"""Data-review findings get the row findings' identity and life cycle, and never
resolve row findings (real DuckDB file)."""

from __future__ import annotations

import duckdb

from trialdw.data_review import merge_review_findings
from trialdw.ingest.findings import apply_findings, row_finding_id
from trialdw.ingest.load import ensure_audit

S, SITE = "HCC-REGO-PD1", "101"
T1, T2 = "20261001T020000Z", "20261101T020000Z"
DEATH = (
    S,
    SITE,
    "DS",
    f"{S}-{SITE}-0001",
    f"{S}-{SITE}-0001|END OF STUDY",
    "DSSTDTC",
    "2026-05-02",
    "death_date_disagreement",
    "DS death date 2026-05-02 differs from DM DTHDTC 2026-05-01.",
)
RECIST = (
    S,
    SITE,
    "RS",
    f"{S}-{SITE}-0002",
    f"{S}-{SITE}-0002|OVRLRESP|INVESTIGATOR|2",
    "RSSTRESC",
    "OVR=PR RECIST=SD",
    "ovr_vs_recist",
    "WEEK 6 on 2026-03-01: ...",
)


def _night(con, transfer_id, review_rows):
    con.execute("DELETE FROM audit.transfers")
    con.execute(
        "INSERT INTO audit.transfers (STUDYID, SITEID, TRANSFER_ID, STATUS, CURRENT) VALUES (?, ?, ?, 'accepted', 'Y')",
        [S, SITE, transfer_id],
    )
    con.execute("CREATE SCHEMA IF NOT EXISTS data_review")
    con.execute(
        "CREATE OR REPLACE TABLE data_review.findings (STUDYID VARCHAR, SITEID VARCHAR, DOMAIN VARCHAR, "
        "USUBJID VARCHAR, RECORD_KEY VARCHAR, COLUMN_NAME VARCHAR, VALUE VARCHAR, RULE VARCHAR, "
        "SEVERITY VARCHAR, MESSAGE VARCHAR)"
    )
    for r in review_rows:
        con.execute("INSERT INTO data_review.findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'warning', ?)", list(r))
    return merge_review_findings(con)


def test_review_findings_open_persist_and_resolve_without_touching_row_findings(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_audit(con)
    row_finding = {
        "FINDING_ID": "rowfinding000001",
        "STUDYID": S,
        "SITEID": SITE,
        "TRANSFER_ID": T1,
        "DOMAIN": "AE",
        "USUBJID": f"{S}-{SITE}-0003",
        "RECORD_KEY": "k",
        "SOURCE_FILE": "f",
        "SOURCE_LINE": 4,
        "COLUMN_NAME": "AEOUT",
        "VALUE": "x",
        "RULE": "codelist",
        "SEVERITY": "reject",
        "MESSAGE": "m",
        "CATEGORY": "row",
    }
    apply_findings(con, S, SITE, T1, [row_finding])

    assert _night(con, T1, [DEATH, RECIST]) == 2
    death_id = row_finding_id(S, SITE, "DS", DEATH[4], "DSSTDTC", "death_date_disagreement")
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT FINDING_ID, CATEGORY, STATUS, SEVERITY, FIRST_SEEN_TRANSFER, SOURCE_FILE FROM audit.findings"
        ).fetchall()
    }
    assert rows[death_id] == ("review", "open", "warning", T1, f"{S}/{SITE}/{T1}/DS.csv")

    # Next night: the site fixed the RECIST measurements; the death dates still disagree.
    # The row finding is not the review step's business: it stays open.
    assert _night(con, T2, [DEATH]) == 1
    status = dict(
        con.execute(
            "SELECT RULE, STATUS || '/' || LAST_SEEN_TRANSFER || '/' || "
            "coalesce(RESOLVED_TRANSFER, '-') FROM audit.findings"
        ).fetchall()
    )
    assert status == {
        "death_date_disagreement": f"open/{T2}/-",
        "ovr_vs_recist": f"resolved/{T1}/{T2}",
        "codelist": f"open/{T1}/-",
    }

    # A rerun of the same night changes nothing (idempotent).
    before = [
        con.execute(f"SELECT * FROM audit.{t} ORDER BY ALL").fetchall() for t in ("findings", "finding_occurrences")
    ]
    _night(con, T2, [DEATH])
    assert [
        con.execute(f"SELECT * FROM audit.{t} ORDER BY ALL").fetchall() for t in ("findings", "finding_occurrences")
    ] == before
