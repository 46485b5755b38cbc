"""The annotation store: every state change of every finding, append-only, beside the warehouse.

``<stem>-annotations.sqlite`` (``WarehousePaths.annotations``). Why SQLite and
not a table in the warehouse: the published DuckDB file is replaced by every
night (and DuckDB allows one writer process per file), while the served review
app writes at any hour. SQLite in WAL mode lets the app append while the
nightly run reads and appends its automatic entries; every write is one short
``BEGIN IMMEDIATE`` transaction, so writers queue for milliseconds, never fail.

Append-only, enforced by the file itself: triggers raise on UPDATE and DELETE,
and on an INSERT whose FROM_STATE is not the finding's current state (the last
entry's TO_STATE, ``new`` when there is none), so the history of a finding is
always one unbroken chain. A correction is a new entry. ENTRY_IDs are
AUTOINCREMENT: never reused. The ``events`` table records logins, failed
logins, logouts and account changes the same way.

A finding without entries is ``new``: the store holds only what people (and
the nightly run) did, not one row per finding.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from trialdw.review_app.states import NEW, REASONS, STATES, Change, TransitionError

ENTRY_FIELDS = (
    "ENTRY_ID",
    "FINDING_ID",
    "AT",
    "BY",
    "FROM_STATE",
    "TO_STATE",
    "COMMENT",
    "QUERY_REF",
    "REASON",
    "RUN_ID",
)


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS annotations (
    ENTRY_ID    INTEGER PRIMARY KEY AUTOINCREMENT,
    FINDING_ID  TEXT NOT NULL,
    AT          TEXT NOT NULL,              -- UTC, ISO 8601 with Z
    BY          TEXT NOT NULL,              -- user name, or trialdw-nightly
    FROM_STATE  TEXT NOT NULL CHECK (FROM_STATE IN {_in(STATES)}),
    TO_STATE    TEXT NOT NULL CHECK (TO_STATE IN {_in(STATES)}),
    COMMENT     TEXT,
    QUERY_REF   TEXT,                       -- EDC query reference
    REASON      TEXT CHECK (REASON IS NULL OR REASON IN {_in(REASONS)}),
    RUN_ID      TEXT,                       -- the nightly run of an automatic entry
    CHECK ((TO_STATE = 'closed') = (REASON IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS annotations_by_finding ON annotations (FINDING_ID, ENTRY_ID);
CREATE TRIGGER IF NOT EXISTS annotations_never_updated BEFORE UPDATE ON annotations
BEGIN SELECT RAISE(ABORT, 'annotations are append-only: record a correction as a new entry'); END;
CREATE TRIGGER IF NOT EXISTS annotations_never_deleted BEFORE DELETE ON annotations
BEGIN SELECT RAISE(ABORT, 'annotations are append-only: entries are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS annotations_unbroken_chain BEFORE INSERT ON annotations
WHEN NEW.FROM_STATE IS NOT coalesce(
    (SELECT TO_STATE FROM annotations WHERE FINDING_ID = NEW.FINDING_ID ORDER BY ENTRY_ID DESC LIMIT 1), 'new')
BEGIN SELECT RAISE(ABORT, 'FROM_STATE is not the current state of the finding'); END;

CREATE TABLE IF NOT EXISTS events (
    EVENT_ID  INTEGER PRIMARY KEY AUTOINCREMENT,
    AT        TEXT NOT NULL,
    BY        TEXT,                         -- the account concerned (as typed, for a failed login)
    EVENT     TEXT NOT NULL,                -- login, login_failed, login_locked, logout, user_added, ...
    CLIENT    TEXT,                         -- client address
    DETAIL    TEXT
);
CREATE TRIGGER IF NOT EXISTS events_never_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""


def utc_now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Entry:
    ENTRY_ID: int
    FINDING_ID: str
    AT: str
    BY: str
    FROM_STATE: str
    TO_STATE: str
    COMMENT: str | None
    QUERY_REF: str | None
    REASON: str | None
    RUN_ID: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Current:
    """A finding's state now: its last entry, plus the newest query reference it was given."""

    STATE: str
    STATE_REASON: str | None
    STATE_AT: str | None
    STATE_BY: str | None
    QUERY_REF: str | None
    LAST_COMMENT: str | None


NO_ENTRY = Current(NEW, None, None, None, None, None)


class AnnotationStore:
    def __init__(self, path: Path):
        self.path = Path(path)

    # ------------------------------------------------------------ connection

    def create(self) -> AnnotationStore:
        """Create the file (mode 0600: it names people) and its schema; idempotent."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")  # persistent: readers never block the writer
            con.executescript(SCHEMA)
        return self

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit; BEGIN by hand
        try:
            con.execute("PRAGMA busy_timeout = 30000")
            con.execute("PRAGMA foreign_keys = ON")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; BEGIN IMMEDIATE takes the write lock before reading,
        so the state a change is checked against is the state it is recorded against."""
        if not self.path.exists():
            self.create()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            self.create()
        with self._connect() as con:
            yield con

    # ------------------------------------------------------------ entries

    @staticmethod
    def _current_of(con, finding_id: str) -> Current:
        row = con.execute(
            "SELECT TO_STATE, REASON, AT, BY, COMMENT FROM annotations WHERE FINDING_ID = ? "
            "ORDER BY ENTRY_ID DESC LIMIT 1",
            [finding_id],
        ).fetchone()
        if row is None:
            return NO_ENTRY
        query_ref = con.execute(
            "SELECT QUERY_REF FROM annotations WHERE FINDING_ID = ? AND QUERY_REF IS NOT NULL "
            "ORDER BY ENTRY_ID DESC LIMIT 1",
            [finding_id],
        ).fetchone()
        return Current(row[0], row[1], row[2], row[3], query_ref[0] if query_ref else None, row[4])

    @staticmethod
    def insert(con, finding_id: str, by: str, from_state: str, change: Change, run_id: str | None = None) -> Entry:
        at = utc_now_text()
        cursor = con.execute(
            "INSERT INTO annotations (FINDING_ID, AT, BY, FROM_STATE, TO_STATE, COMMENT, QUERY_REF, REASON, RUN_ID) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [finding_id, at, by, from_state, change.to_state, change.comment, change.query_ref, change.reason, run_id],
        )
        return Entry(
            cursor.lastrowid,
            finding_id,
            at,
            by,
            from_state,
            change.to_state,
            change.comment,
            change.query_ref,
            change.reason,
            run_id,
        )

    def append(
        self,
        finding_id: str,
        by: str,
        change: Change,
        *,
        expected_state: str | None = None,
        check: Callable[[str, Change], Change] | None = None,
    ) -> Entry:
        """Record one change by ``by``. ``check(current_state, change)`` validates it against the
        state at the moment of writing (and may clean it); ``expected_state``: the state the person
        saw, so two people changing one finding at once do not overwrite each other unseen."""
        with self.write() as con:
            current = self._current_of(con, finding_id).STATE
            if expected_state is not None and expected_state != current:
                raise TransitionError(
                    f"the finding is {current} now, not {expected_state}: someone changed it meanwhile; reload",
                    status=409,
                )
            if check is not None:
                change = check(current, change)
            return self.insert(con, finding_id, by, current, change)

    def history(self, finding_id: str) -> list[Entry]:
        with self.read() as con:
            rows = con.execute(
                f"SELECT {', '.join(ENTRY_FIELDS)} FROM annotations WHERE FINDING_ID = ? ORDER BY ENTRY_ID",
                [finding_id],
            ).fetchall()
        return [Entry(*row) for row in rows]

    def entries(self) -> list[Entry]:
        with self.read() as con:
            rows = con.execute(f"SELECT {', '.join(ENTRY_FIELDS)} FROM annotations ORDER BY ENTRY_ID").fetchall()
        return [Entry(*row) for row in rows]

    def current(self, finding_id: str) -> Current:
        with self.read() as con:
            return self._current_of(con, finding_id)

    @staticmethod
    def current_states_in(con) -> dict[str, Current]:
        # SQLite: with max(), the other bare columns come from the row holding the maximum.
        last = con.execute(
            "SELECT FINDING_ID, max(ENTRY_ID), TO_STATE, REASON, AT, BY, COMMENT FROM annotations GROUP BY FINDING_ID"
        ).fetchall()
        refs = {
            fid: ref
            for fid, _, ref in con.execute(
                "SELECT FINDING_ID, max(ENTRY_ID), QUERY_REF FROM annotations WHERE QUERY_REF IS NOT NULL "
                "GROUP BY FINDING_ID"
            ).fetchall()
        }
        return {
            fid: Current(state, reason, at, by, refs.get(fid), comment)
            for fid, _, state, reason, at, by, comment in last
        }

    def current_states(self) -> dict[str, Current]:
        """Every finding that has entries, with its state now (the others are ``new``)."""
        with self.read() as con:
            return self.current_states_in(con)

    def version(self) -> tuple[int, int]:
        """Changes whenever an entry is added: (last ENTRY_ID, entries); cheap, for caches."""
        with self.read() as con:
            return tuple(con.execute("SELECT coalesce(max(ENTRY_ID), 0), count(*) FROM annotations").fetchone())

    # ------------------------------------------------------------ events

    def log_event(self, event: str, by: str | None, client: str | None = None, detail: str | None = None) -> None:
        with self.write() as con:
            con.execute(
                "INSERT INTO events (AT, BY, EVENT, CLIENT, DETAIL) VALUES (?, ?, ?, ?, ?)",
                [utc_now_text(), by, event, client, detail],
            )

    def events(self) -> list[dict]:
        with self.read() as con:
            cursor = con.execute("SELECT EVENT_ID, AT, BY, EVENT, CLIENT, DETAIL FROM events ORDER BY EVENT_ID")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
