"""Loading validated transfers into the history store: record versions
(trialdw.history), audit.quarantine, audit.reconciliation (load_transfer) and
audit.transfers / audit.files (record_transfer). Bulk inserts from Parquet
through DuckDB, never row by row.

These functions do not open transactions themselves; ``landing.ingest_transfer``
wraps each transfer in one so a transfer is loaded completely or not at all.
"""

from __future__ import annotations

import datetime as dt

from trialdw import history
from trialdw.ingest.types import (
    ACCEPTED,
    SUPERSEDED,
    ReconciliationError,
    TransferCheck,
    TransferRef,
    ValidatedTransfer,
)
from trialdw.project import PROJECT_ROOT

AUDIT_SQL = PROJECT_ROOT / "trialdw" / "sql" / "audit.sql"
# raw.<domain> of a build file: the contract's columns (VARCHAR) then lineage.
# _record_key is computed once, by the history store's view raw.<domain>
# (trialdw.history), when the build file is assembled, and read by every later
# step (staging, data-review findings).
LINEAGE_DDL = (
    '"_studyid" VARCHAR, "_siteid" VARCHAR, "_transfer_id" VARCHAR, '
    '"_source_file" VARCHAR, "_source_line" BIGINT, "_extra" JSON, "_record_key" VARCHAR'
)


def ensure_audit(con) -> None:
    """Create the audit and raw schemas (audit.sql is idempotent)."""
    con.execute(AUDIT_SQL.read_text(encoding="utf-8"))


def raw_table(domain: str) -> str:
    return f"raw.{domain.lower()}"


def ensure_raw_table(con, contract) -> None:
    """A physical raw.<domain> (a study build file's current rows): the contract's
    columns, all VARCHAR, in spec order, then lineage. In the history store
    raw.<domain> is a view instead (trialdw.history.ensure_history)."""
    table = raw_table(contract.domain)
    columns = ", ".join(f'"{c}" VARCHAR' for c in contract.column_names)
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns}, {LINEAGE_DDL})")


def load_transfer(con, validated: ValidatedTransfer, contracts: dict | None = None) -> None:
    """Append the valid rows (as record versions), the quarantined rows and the
    reconciliation counts of one validated transfer. Refuses to load the same
    transfer twice.

    The store's schemas must be in place (``trialdw.warehouse.open_history``,
    ``landing.ingest_landing``): a night loads dozens of transfers, and each
    small statement here costs ~1 ms on the store's one writing thread, so the
    counts are inserted and proved once per transfer, not once per file."""
    from trialdw.ingest.contracts import load_contracts

    contracts = contracts or load_contracts()
    ref = validated.ref
    transfer = [ref.study, ref.site, ref.transfer_id]
    already = con.execute(
        "SELECT count(*) FROM audit.reconciliation WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?", transfer
    ).fetchall()[0][0]
    if already:
        raise RuntimeError(f"{ref.relpath} is already loaded (audit.reconciliation has it); not loading twice")
    history.refuse_loaded_twice(con, ref)
    previous = history.predecessor(con, ref.study, ref.site, ref.transfer_id)
    sent_again = history.files_sent_again(con, ref, previous, validated.check.files)
    for out in validated.domains:
        if out.rows_loaded + out.rows_quarantined != out.rows_sent:
            raise ReconciliationError(
                f"{out.source_file}: {out.rows_loaded} + {out.rows_quarantined} != {out.rows_sent}"
            )
        history.load_domain(
            con, contracts[out.domain], ref, out.valid_path, out.rows_loaded, previous, out.domain in sent_again
        )
    if not validated.domains:
        return
    con.execute(
        "INSERT INTO audit.quarantine SELECT STUDYID, SITEID, TRANSFER_ID, DOMAIN, SOURCE_FILE, "
        "SOURCE_LINE, USUBJID, RULES, CAST(RECORD AS JSON) FROM read_parquet(?)",
        [[str(out.quarantine_path) for out in validated.domains]],
    )
    counts = [(*transfer, o.domain, o.rows_sent, o.rows_loaded, o.rows_quarantined) for o in validated.domains]
    con.execute(
        "INSERT INTO audit.reconciliation VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(counts)),
        [value for row in counts for value in row],
    )
    # Prove it from the database, not from our own counters: the history's runs hold
    # exactly the validated rows, audit.quarantine the others.
    stored = dict(
        con.execute(
            "SELECT DOMAIN, sum(N) FROM history.layout WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ? "
            "GROUP BY DOMAIN",
            transfer,
        ).fetchall()
    )
    quarantined = dict(
        con.execute(
            "SELECT DOMAIN, count(*) FROM audit.quarantine WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ? "
            "GROUP BY DOMAIN",
            transfer,
        ).fetchall()
    )
    for out in validated.domains:
        loaded, held = stored.get(out.domain, 0), quarantined.get(out.domain, 0)
        if loaded != out.rows_loaded:
            raise ReconciliationError(
                f"{ref.source_file(out.file_name)}: the history holds {loaded} rows of this transfer, "
                f"validation passed {out.rows_loaded}"
            )
        if loaded + held != out.rows_sent:
            raise ReconciliationError(
                f"{out.source_file}: database holds {loaded} loaded + {held} "
                f"quarantined rows, the file had {out.rows_sent}"
            )


def record_transfer(con, ref: TransferRef, check: TransferCheck, run_id: str | None) -> None:
    """Write (or update) the transfer's audit.transfers row and its audit.files rows,
    then recompute CURRENT/superseded for the site (the audit schema in place:
    ``ensure_audit``).

    An ``incomplete`` row is replaced once the transfer is complete. RECEIVED_AT is
    the time the warehouse first processed the complete transfer.
    """
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(
        "DELETE FROM audit.transfers WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ? AND STATUS = 'incomplete'",
        [ref.study, ref.site, ref.transfer_id],
    )
    con.execute(
        "INSERT INTO audit.transfers VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
        [
            ref.study,
            ref.site,
            ref.transfer_id,
            check.status,
            check.reason,
            now,
            check.exported_at,
            check.manifest_sha256,
            str(ref.path),
            run_id,
        ],
    )
    if check.files:
        con.executemany(
            "INSERT INTO audit.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [ref.study, ref.site, ref.transfer_id, f.name, f.domain, f.sha256, f.manifest_rows, f.status, f.reason]
                for f in check.files
            ],
        )
    recompute_current(con, ref.study, ref.site)


def recompute_current(con, study: str, site: str) -> None:
    """Newest accepted transfer of the site: CURRENT 'Y', STATUS accepted; older
    accepted ones become 'superseded'. Rejected/incomplete rows are untouched."""
    con.execute(
        f"""UPDATE audit.transfers AS t SET
               CURRENT = CASE WHEN t.TRANSFER_ID = n.newest THEN 'Y' ELSE NULL END,
               STATUS = CASE WHEN t.TRANSFER_ID = n.newest THEN '{ACCEPTED}' ELSE '{SUPERSEDED}' END
            FROM (SELECT max(TRANSFER_ID) AS newest FROM audit.transfers
                  WHERE STUDYID = ? AND SITEID = ? AND STATUS IN ('{ACCEPTED}', '{SUPERSEDED}')) AS n
            WHERE t.STUDYID = ? AND t.SITEID = ? AND t.STATUS IN ('{ACCEPTED}', '{SUPERSEDED}')""",
        [study, site, study, site],
    )


def record_incomplete(con, ref: TransferRef, run_id: str | None) -> bool:
    """An incomplete transfer (no manifest yet): recorded once, not an error.
    True when this call recorded it (first sighting)."""
    exists = con.execute(
        "SELECT count(*) FROM audit.transfers WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?",
        [ref.study, ref.site, ref.transfer_id],
    ).fetchall()[0][0]
    if not exists:
        con.execute(
            "INSERT INTO audit.transfers VALUES (?, ?, ?, 'incomplete', ?, ?, NULL, NULL, NULL, ?, ?)",
            [
                ref.study,
                ref.site,
                ref.transfer_id,
                ref.problem,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                str(ref.path),
                run_id,
            ],
        )
    return not exists
