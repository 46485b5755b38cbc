"""A pull's outcomes in a warehouse: audit.pulls rows, findings for refusals and
their life cycle (open while refused, resolved by a pull that no longer refuses)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from trialdw.pull import PullReport, TransferOutcome, record_pull_outcomes

SRC = "sftp://trialdw@sftp.example.org/outgoing"
AT = dt.datetime(2026, 11, 30, 2, 0, 5, tzinfo=dt.UTC)
T1, T2 = "20261119T020000Z", "20261120T020000Z"


def outcome(site, tid, what, rule=None, reason="", files=0, size=0, study="HCC-REGO-PD1") -> TransferOutcome:
    return TransferOutcome(SRC, study, site, tid, what, rule, reason, files, size, AT)


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        yield connection


def findings(con) -> list[tuple]:
    return con.execute(
        """SELECT SITEID, RULE, CATEGORY, SEVERITY, STATUS, LAST_SEEN_TRANSFER, RESOLVED_TRANSFER, SOURCE_FILE
           FROM audit.findings ORDER BY SITEID, RULE"""
    ).fetchall()


def test_every_outcome_is_a_row_and_every_refusal_a_finding(con):
    report = PullReport(
        [
            outcome("101", T1, "landed", None, "verified against manifest.json", 11, 2048),
            outcome("101", T2, "refused", "changed_after_landing", "DM.csv differ(s) from the landed copy"),
            outcome("102", T1, "incomplete", None, "no manifest.json yet"),
            outcome("103", None, "refused", "symlink", "site folder 103 is a symbolic link"),
            TransferOutcome("s3://edc/x", None, None, None, "failed", "auth_refused", "credentials refused", 0, 0, AT),
        ]
    )
    assert record_pull_outcomes(con, report, "run-1") == 5
    rows = con.execute(
        """SELECT RUN_ID, SITEID, TRANSFER_ID, SOURCE, OUTCOME, RULE, FILES, BYTES, PULLED_AT
           FROM audit.pulls ORDER BY ALL"""
    ).fetchall()
    assert rows[0] == ("run-1", "101", T1, SRC, "landed", None, 11, 2048, dt.datetime(2026, 11, 30, 2, 0, 5))
    assert [r[4] for r in rows] == ["landed", "refused", "incomplete", "refused", "failed"]
    assert findings(con) == [
        ("101", "changed_after_landing", "pull", "reject", "open", T2, None, f"HCC-REGO-PD1/101/{T2}/(pull)")
    ]
    message = con.execute("SELECT MESSAGE FROM audit.findings").fetchone()[0]
    assert message == f"not landed from {SRC}: DM.csv differ(s) from the landed copy"

    record_pull_outcomes(con, report, "run-1")  # a retried task records once
    assert con.execute("SELECT count(*) FROM audit.pulls").fetchone()[0] == 5


def test_a_refusal_stays_open_while_refused_and_is_resolved_when_the_site_is_clean(con):
    refused = outcome("101", T1, "refused", "symlink", "AE.csv on the server: symbolic link(s)")
    record_pull_outcomes(con, PullReport([refused, outcome("102", T1, "landed")]), "run-1")
    record_pull_outcomes(con, PullReport([refused, outcome("102", T1, "skipped")]), "run-2")
    assert [f[4] for f in findings(con)] == ["open"]
    # A failed source says nothing about its sites: the finding stays open.
    failed = TransferOutcome(SRC, None, None, None, "failed", "unreachable", "connection refused", 0, 0, AT)
    record_pull_outcomes(con, PullReport([failed]), "run-3")
    assert [f[4] for f in findings(con)] == ["open"]
    record_pull_outcomes(con, PullReport([outcome("101", T1, "landed"), outcome("101", T2, "landed")]), "run-4")
    assert findings(con) == [("101", "symlink", "pull", "reject", "resolved", T1, T2, f"HCC-REGO-PD1/101/{T1}/(pull)")]
    assert con.execute("SELECT count(DISTINCT RUN_ID) FROM audit.pulls").fetchone()[0] == 4


def test_an_ingest_does_not_resolve_a_pull_finding(con):
    """Only a pull knows what the server holds; an accepted transfer of the site
    (apply_findings of the ingest, categories row + transfer) leaves it open."""
    from trialdw.ingest.findings import apply_findings

    record_pull_outcomes(con, PullReport([outcome("101", T1, "refused", "unsafe_name", "'../x': not plain")]), "r1")
    apply_findings(con, "HCC-REGO-PD1", "101", T2, [], accepted=True)
    assert [f[4] for f in findings(con)] == ["open"]
