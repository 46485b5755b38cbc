"""Findings: how one is built, its stable identity, and its life cycle in the audit schema.

Identity (docs/architecture.md): first 16 hex of sha256 over
``study|site|domain|record key|column|rule`` for row findings and
``study|site|file|rule`` for transfer findings. The line is not part of it, because
lines move between cumulative transfers.

Life cycle choices (the spec is silent on the details):
- A finding seen in a transfer is ``open``; LAST_SEEN_TRANSFER becomes that transfer.
  A resolved finding that comes back is re-opened (RESOLVED_TRANSFER cleared) and
  keeps its FIRST_SEEN_TRANSFER, so its whole history stays in one row (occurrences
  hold the detail).
- Only an **accepted** transfer resolves anything: every open finding of the site
  that it does not repeat is resolved with RESOLVED_TRANSFER = that transfer. This
  covers transfer-level findings of an earlier rejected transfer too (the site sent
  something we could load, so the transfer problem is over). A rejected transfer
  resolves nothing, because its rows were never checked.
- A transfer older than the newest one already applied for the site (late arrival)
  records its occurrences but neither moves LAST_SEEN backwards nor resolves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import polars as pl

from trialdw.ingest.types import FINDING_COLUMNS

ROW = "row"
TRANSFER = "transfer"
REVIEW = "review"  # data-review findings computed by dbt over the current data
PULL = "pull"  # transfers the pull from the sites' drop zones refused (trialdw.pull.record)
REJECT = "reject"
WARNING = "warning"


def finding_id(*parts: object) -> str:
    text = "|".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def transfer_finding(
    ref,
    file_name: str | None,
    rule: str,
    message: str,
    *,
    severity: str = REJECT,
    domain: str | None = None,
    value: str | None = None,
    column: str | None = None,
    category: str = TRANSFER,
) -> dict:
    """A problem of a whole transfer or file (SOURCE_LINE NULL). ``category``
    ``pull`` for a transfer the pull refused to land (resolved only by a pull)."""
    file_name = file_name or "(transfer)"
    return {
        "FINDING_ID": finding_id(ref.study, ref.site, file_name, rule),
        "STUDYID": ref.study,
        "SITEID": ref.site,
        "TRANSFER_ID": ref.transfer_id,
        "DOMAIN": domain,
        "USUBJID": None,
        "RECORD_KEY": None,
        "SOURCE_FILE": ref.source_file(file_name),
        "SOURCE_LINE": None,
        "COLUMN_NAME": column,
        "VALUE": value,
        "RULE": rule,
        "SEVERITY": severity,
        "MESSAGE": message,
        "CATEGORY": category,
    }


def row_finding_id(study: str, site: str, domain: str, record_key: str | None, column: str | None, rule: str) -> str:
    return finding_id(study, site, domain, record_key, column, rule)


def finding_ids(texts: pl.Series) -> pl.Series:
    """``finding_id`` of many findings at once: ``texts`` are their parts already
    joined with ``|`` (NULL parts as ""). Hashed by DuckDB's sha256 (same bytes, same
    hex as hashlib), so a file with many findings costs no Python loop."""
    from trialdw.ingest.csvnative import duckdb_cursor

    if texts.len() == 0:
        return pl.Series("FINDING_ID", [], dtype=pl.String)
    cursor = duckdb_cursor()
    try:
        cursor.register("_finding_texts", pl.DataFrame({"t": texts}).to_arrow())
        ids = cursor.sql("SELECT substr(sha256(t), 1, 16) AS FINDING_ID FROM _finding_texts").to_arrow_table()
    finally:
        cursor.close()
    return pl.from_arrow(ids).get_column("FINDING_ID")


FINDING_SCHEMA = {c: (pl.Int64 if c == "SOURCE_LINE" else pl.String) for c in FINDING_COLUMNS}


def findings_frame(findings: Iterable[dict]) -> pl.DataFrame:
    rows = [{c: f.get(c) for c in FINDING_COLUMNS} for f in findings]
    return pl.DataFrame(rows, schema=FINDING_SCHEMA) if rows else pl.DataFrame(schema=FINDING_SCHEMA)


def merge_shared_transfer_findings(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per transfer-level finding identity within one transfer.

    A transfer finding's identity is study + site + file + rule (site-exports.md), so
    several problems of one file and rule (a manifest disagreeing with its folder on
    study, site and transfer id; two missing columns) are *one* finding. Keeping only
    one of them would lose the others' columns and values, so they are merged:
    COLUMN_NAME joined with ``,`` (like duplicate_key), VALUE and MESSAGE with ``; ``,
    in the order the checks produced them.
    """
    is_transfer = pl.col("CATEGORY") == TRANSFER
    transfer = frame.filter(is_transfer)
    if not transfer.get_column("FINDING_ID").is_duplicated().any():
        return frame
    joined = {"COLUMN_NAME": ",", "VALUE": "; ", "MESSAGE": "; "}
    merged = (
        transfer.group_by("FINDING_ID", maintain_order=True)
        .agg(
            *[pl.col(c).first() for c in FINDING_COLUMNS if c != "FINDING_ID" and c not in joined],
            *[pl.col(c).drop_nulls().str.join(sep) for c, sep in joined.items()],
        )
        .with_columns([pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in joined])
        .select(FINDING_COLUMNS)
    )
    return pl.concat([frame.filter(~is_transfer), merged])


def apply_findings(
    con,
    study: str,
    site: str,
    transfer_id: str,
    findings: Iterable[dict] | str,
    *,
    accepted: bool = True,
    categories: tuple[str, ...] = (ROW, TRANSFER),
) -> None:
    """Merge one transfer's findings into audit.findings / audit.finding_occurrences.

    ``findings`` is an iterable of finding dicts or the path of a findings Parquet
    file (ValidatedTransfer.findings_path). Call once per transfer, in TRANSFER_ID
    order per site; see the module docstring for the life-cycle rules.
    ``categories``: the kinds of finding this call speaks for; only those can be
    resolved by it (a transfer's row check says nothing about data-review findings).
    """
    if isinstance(findings, (str, bytes)) or hasattr(findings, "__fspath__"):
        frame = pl.read_parquet(findings)
    else:
        frame = findings_frame(findings)
    frame = merge_shared_transfer_findings(frame.select(FINDING_COLUMNS).cast(FINDING_SCHEMA))

    # Only real TRANSFER_IDs order transfers: a badly named (rejected) folder such as
    # "latest" must not make every later transfer of the site look late.
    latest = con.execute(
        """SELECT max(LAST_SEEN_TRANSFER) FROM audit.findings WHERE STUDYID = ? AND SITEID = ?
           AND regexp_full_match(LAST_SEEN_TRANSFER, ?) AND list_contains(?, CATEGORY)""",
        [study, site, r"\d{8}T\d{6}Z", list(categories)],
    ).fetchall()[0][0]
    late = latest is not None and transfer_id < latest

    con.register("_new_findings", frame.to_arrow())
    try:
        con.execute(
            # An occurrence is recorded once per transfer, however often it is applied
            # (data-review findings are re-applied to the current transfer every night).
            """INSERT INTO audit.finding_occurrences
               SELECT FINDING_ID, ?, SOURCE_FILE, SOURCE_LINE, VALUE FROM _new_findings AS n
               WHERE NOT EXISTS (SELECT 1 FROM audit.finding_occurrences AS o
                                 WHERE o.FINDING_ID = n.FINDING_ID AND o.TRANSFER_ID = ?
                                   AND o.SOURCE_LINE IS NOT DISTINCT FROM n.SOURCE_LINE)""",
            [transfer_id, transfer_id],
        )
        # One audit row per id: several rows of a transfer can share an id (all rows of a
        # duplicated key); the first line stands for them, occurrences keep every line.
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _first_findings AS
               SELECT * FROM _new_findings
               QUALIFY row_number() OVER (PARTITION BY FINDING_ID ORDER BY SOURCE_LINE NULLS FIRST) = 1"""
        )
        if not late:
            con.execute(
                """UPDATE audit.findings AS f SET
                       STATUS = 'open', LAST_SEEN_TRANSFER = ?, RESOLVED_TRANSFER = NULL,
                       SOURCE_FILE = n.SOURCE_FILE, SOURCE_LINE = n.SOURCE_LINE,
                       VALUE = n.VALUE, MESSAGE = n.MESSAGE, USUBJID = n.USUBJID,
                       VISIT = n.VISIT, VISITNUM = n.VISITNUM
                   FROM _first_findings AS n WHERE f.FINDING_ID = n.FINDING_ID""",
                [transfer_id],
            )
        con.execute(
            # Columns named: the published file may carry more (the query STATE columns of
            # trialdw.review_app.state_sync), which a new finding leaves empty until they are written.
            """INSERT INTO audit.findings (FINDING_ID, STUDYID, SITEID, DOMAIN, USUBJID, RECORD_KEY, SOURCE_FILE,
                      SOURCE_LINE, COLUMN_NAME, VALUE, RULE, SEVERITY, MESSAGE, CATEGORY,
                      STATUS, FIRST_SEEN_TRANSFER, LAST_SEEN_TRANSFER, RESOLVED_TRANSFER, VISIT, VISITNUM)
               SELECT FINDING_ID, STUDYID, SITEID, DOMAIN, USUBJID, RECORD_KEY, SOURCE_FILE,
                      SOURCE_LINE, COLUMN_NAME, VALUE, RULE, SEVERITY, MESSAGE, CATEGORY,
                      'open', ?, ?, NULL, VISIT, VISITNUM
               FROM _first_findings
               WHERE FINDING_ID NOT IN (SELECT FINDING_ID FROM audit.findings)""",
            [transfer_id, transfer_id],
        )
        if accepted and not late:
            con.execute(
                """UPDATE audit.findings SET STATUS = 'resolved', RESOLVED_TRANSFER = ?
                   WHERE STUDYID = ? AND SITEID = ? AND STATUS = 'open' AND list_contains(?, CATEGORY)
                     AND FINDING_ID NOT IN (SELECT FINDING_ID FROM _first_findings)""",
                [transfer_id, study, site, list(categories)],
            )
    finally:
        con.unregister("_new_findings")
        con.execute("DROP TABLE IF EXISTS _first_findings")
