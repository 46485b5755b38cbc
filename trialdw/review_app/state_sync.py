"""What the nightly run does with the annotation store: two functions, called in this order
on the file about to be published, after its findings are final and before publish.

1. ``sync_states(store, con, run_id)``: the automatic entries (by ``trialdw-nightly``):
   a finding the data resolved is closed as ``resolved_by_data``; a finding closed
   that way which a later transfer has again goes back to ``new`` (re-opened, its
   history kept); one closed as ``accepted_as_is`` stays closed.
2. ``write_annotation_tables(con, store)``: ``audit.finding_annotations`` (the whole
   history of this warehouse's findings) and the current state as columns of
   ``audit.findings`` (STATE, STATE_REASON, STATE_AT, STATE_BY, QUERY_REF), so SQL
   users, findings.csv/xlsx and the static page see what the data managers did.

Idempotent: a second call with the same warehouse records nothing new. If the night
fails after step 1, the store is a step ahead of the published file for a while; the
next successful night brings them together (its own step 1 sees the same data again).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from trialdw.review_app.annotations import ENTRY_FIELDS, NO_ENTRY, AnnotationStore
from trialdw.review_app.states import NEW, SYSTEM_USER, Change, system_change

STATE_COLUMNS = {  # added to audit.findings; the API and the files use the same names
    "STATE": "VARCHAR",
    "STATE_REASON": "VARCHAR",
    "STATE_AT": "TIMESTAMP",
    "STATE_BY": "VARCHAR",
    "QUERY_REF": "VARCHAR",
}


@dataclass(frozen=True)
class SyncResult:
    closed: int  # closed as resolved_by_data tonight
    reopened: int  # back to new because the data has them again

    def describe(self) -> str:
        return f"{self.closed} finding(s) closed as resolved by data, {self.reopened} re-opened"


def sync_states(store: AnnotationStore, con, run_id: str) -> SyncResult:
    """Record the automatic transitions that the warehouse's findings call for (see module doc)."""
    findings = con.execute(
        "SELECT FINDING_ID, STATUS, RESOLVED_TRANSFER, LAST_SEEN_TRANSFER FROM audit.findings ORDER BY FINDING_ID"
    ).fetchall()
    closed = reopened = 0
    with store.write() as sql:  # one transaction: the states are read and extended atomically
        current = store.current_states_in(sql)
        for finding_id, status, resolved_in, last_seen in findings:
            state = current.get(finding_id, NO_ENTRY)
            move = system_change(state.STATE, state.STATE_REASON, status)
            if move is None:
                continue
            to_state, reason = move
            if to_state == NEW:
                comment = f"re-opened: transfer {last_seen} has it again"
                reopened += 1
            else:
                comment = f"resolved by data: transfer {resolved_in} no longer has it"
                closed += 1
            store.insert(sql, finding_id, SYSTEM_USER, state.STATE, Change(to_state, comment, None, reason), run_id)
    return SyncResult(closed, reopened)


def _entries_table(store: AnnotationStore) -> pa.Table:
    entries = store.entries()
    columns = {name: [getattr(e, name) for e in entries] for name in ENTRY_FIELDS}
    types = {"ENTRY_ID": pa.int64()}
    return pa.table({name: pa.array(values, type=types.get(name, pa.string())) for name, values in columns.items()})


def _current_table(store: AnnotationStore) -> pa.Table:
    current = store.current_states()
    ids = sorted(current)
    return pa.table(
        {
            "FINDING_ID": pa.array(ids, pa.string()),
            **{
                name: pa.array([getattr(current[i], name) for i in ids], pa.string())
                for name in ("STATE", "STATE_REASON", "STATE_AT", "STATE_BY", "QUERY_REF")
            },
        }
    )


def write_annotation_tables(con, store: AnnotationStore) -> int:
    """audit.finding_annotations and the state columns of audit.findings; returns the entries written."""
    con.register("_annotation_entries", _entries_table(store))
    con.register("_annotation_current", _current_table(store))
    try:
        con.execute(
            """CREATE OR REPLACE TABLE audit.finding_annotations AS
               SELECT e.ENTRY_ID, e.FINDING_ID, CAST(strptime(e.AT, '%Y-%m-%dT%H:%M:%S.%fZ') AS TIMESTAMP) AS AT,
                      e.BY, e.FROM_STATE, e.TO_STATE, e.COMMENT, e.QUERY_REF, e.REASON, e.RUN_ID
               FROM _annotation_entries AS e
               WHERE e.FINDING_ID IN (SELECT FINDING_ID FROM audit.findings)
               ORDER BY e.ENTRY_ID"""
        )
        for name, sql_type in STATE_COLUMNS.items():
            con.execute(f"ALTER TABLE audit.findings ADD COLUMN IF NOT EXISTS {name} {sql_type}")
        con.execute(
            """UPDATE audit.findings AS f SET
                   STATE = coalesce(c.STATE, 'new'), STATE_REASON = c.STATE_REASON,
                   STATE_AT = CAST(strptime(c.STATE_AT, '%Y-%m-%dT%H:%M:%S.%fZ') AS TIMESTAMP),
                   STATE_BY = c.STATE_BY, QUERY_REF = c.QUERY_REF
               FROM (SELECT a.FINDING_ID, c.* EXCLUDE (FINDING_ID) FROM audit.findings AS a
                     LEFT JOIN _annotation_current AS c USING (FINDING_ID)) AS c
               WHERE f.FINDING_ID = c.FINDING_ID"""
        )
        return con.execute("SELECT count(*) FROM audit.finding_annotations").fetchall()[0][0]
    finally:
        con.unregister("_annotation_entries")
        con.unregister("_annotation_current")
