"""What the served app reads: the published warehouse (read-only) joined with the live query states.

The published file is attached read-only (``READ_ONLY``) and kept open while it is the
published one; every request first compares the path's inode/mtime/size with
the open file's, and when a night has replaced it (``os.replace``) the next
request opens the new file, while requests still running finish on the old one
(its connection closes when the last of them is done). A read-only DuckDB
connection takes no lock that a night's build, copy or ``os.replace`` waits for.

The query states are not in the warehouse's columns (those are last night's
snapshot) but in the annotation store, which people change all day. The store's
current states are read once per change of the store (its last ENTRY_ID) into an
Arrow table that each request registers beside the warehouse, so filtering by
state, paging and counting all happen in one DuckDB query over the 50,000 rows.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from trialdw.review_app.annotations import AnnotationStore
from trialdw.review_app.changes import Changes, changes_from_audit_trail
from trialdw.review_app.data import (
    FINDING_FIELDS,
    FINDING_ORDER,
    NO_DOMAIN,
    RECONCILIATION_FIELDS,
    STATE_FIELDS,
    TRANSFER_FIELDS,
    read_pulls,
)
from trialdw.review_app.rules import rule_summary
from trialdw.review_app.states import STATES

FINDING_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
FILTERS = ("study", "site", "domain", "rule", "severity", "status", "state", "change")
FILTER_COLUMNS = {
    "study": "STUDYID",
    "site": "SITEID",
    "domain": "DOMAIN",
    "rule": "RULE",
    "severity": "SEVERITY",
    "status": "STATUS",
    "state": "STATE",
    "change": "CHANGE",
}
MAX_PAGE_SIZE = 500
API_FIELDS = (*FINDING_FIELDS, *STATE_FIELDS, "CHANGE")

# Warehouse columns + live state + "since last run". A finding without entries in the store is
# what the nightly's sync would make it: new when open, closed (resolved by data) when resolved.
LIVE_FINDINGS = f"""(
    SELECT {", ".join("w." + c for c in FINDING_FIELDS)},
           coalesce(s.STATE, CASE WHEN w.STATUS = 'resolved' THEN 'closed' ELSE 'new' END) AS STATE,
           CASE WHEN s.FINDING_ID IS NULL AND w.STATUS = 'resolved' THEN 'resolved_by_data'
                ELSE s.STATE_REASON END AS STATE_REASON,
           s.STATE_AT, s.STATE_BY, s.QUERY_REF, coalesce(c.CHANGE, '') AS CHANGE
    FROM audit.findings AS w
    LEFT JOIN _live_states AS s ON s.FINDING_ID = w.FINDING_ID
    LEFT JOIN _changes AS c ON c.FINDING_ID = w.FINDING_ID
)"""


class WarehouseMissing(RuntimeError):
    pass


def _signature(path: Path) -> tuple:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class _Generation:
    """One published file, open read-only, with what is computed once per file."""

    signature: tuple
    con: duckdb.DuckDBPyConnection
    changes: pa.Table
    latest_run: str | None
    basis: str
    facets: dict
    users: int = 0
    retired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self) -> None:
        with self.lock:
            self.users += 1

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            done = self.retired and self.users == 0
        if done:
            self.con.close()

    def retire(self) -> None:
        with self.lock:
            self.retired = True
            done = self.users == 0
        if done:
            self.con.close()


def _changes_table(changes: Changes) -> pa.Table:
    ids = sorted(changes.new | changes.resolved)
    return pa.table(
        {"FINDING_ID": pa.array(ids, pa.string()), "CHANGE": pa.array([changes.change_of(i) for i in ids], pa.string())}
    )


def _facets(con) -> dict:
    def distinct(sql: str) -> list:
        return [r[0] for r in con.execute(sql).fetchall()]

    return {
        "study": distinct("SELECT DISTINCT STUDYID FROM audit.findings ORDER BY 1"),
        "site": distinct("SELECT DISTINCT SITEID FROM audit.findings ORDER BY 1"),
        "domain": distinct(f"SELECT DISTINCT coalesce(DOMAIN, '{NO_DOMAIN}') FROM audit.findings ORDER BY 1"),
        "rule": distinct("SELECT DISTINCT RULE FROM audit.findings ORDER BY 1"),
        "severity": distinct("SELECT DISTINCT SEVERITY FROM audit.findings ORDER BY 1"),
        "status": ["open", "resolved"],
        "state": list(STATES),
        "change": ["new", "resolved"],
    }


class StatesCache:
    """The store's current states as an Arrow table, rebuilt only when the store changed."""

    def __init__(self, store: AnnotationStore):
        self.store = store
        self._version = None
        self._table = None
        self._lock = threading.Lock()

    def table(self) -> pa.Table:
        version = self.store.version()
        with self._lock:
            if version != self._version:
                current = self.store.current_states()
                ids = sorted(current)
                self._table = pa.table(
                    {
                        "FINDING_ID": pa.array(ids, pa.string()),
                        **{
                            name: pa.array([getattr(current[i], name) for i in ids], pa.string())
                            for name in ("STATE", "STATE_REASON", "STATE_AT", "STATE_BY", "QUERY_REF")
                        },
                    }
                )
                self._version = version
            return self._table


def _json_value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def parse_filters(params: dict) -> dict[str, list[str]]:
    """``{"state": "new,acknowledged"}`` -> ``{"state": ["new", "acknowledged"]}``; empty values dropped."""
    out = {}
    for name in FILTERS:
        raw = params.get(name)
        if raw:
            values = [v for v in str(raw).split(",") if v][:50]
            if values:
                out[name] = values
    return out


def _where(filters: dict[str, list[str]]) -> tuple[str, list]:
    clauses, params = [], []
    for name, values in filters.items():
        column = FILTER_COLUMNS[name]
        parts = []
        plain = [v for v in values if not (name == "domain" and v == NO_DOMAIN)]
        if plain:
            parts.append(f"{column} IN ({', '.join('?' for _ in plain)})")
            params += plain
        if name == "domain" and NO_DOMAIN in values:
            parts.append("DOMAIN IS NULL")
        clauses.append("(" + " OR ".join(parts) + ")")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class WarehouseReader:
    def __init__(self, path: Path, store: AnnotationStore):
        self.path = Path(path)
        self.store = store
        self.states = StatesCache(store)
        self._generation: _Generation | None = None
        self._lock = threading.Lock()
        self._memo: dict[str, tuple[tuple, dict]] = {}  # name -> ((file, store version), answer)

    def _memoised(self, name: str, compute) -> dict:
        """Whole-warehouse answers (counts, summary by rule, sites) change only with a new night or a
        new entry in the store: computed once per (published file, store version), not per page view."""
        generation = self.generation()
        try:
            key = (generation.signature, self.store.version())
        finally:
            generation.release()
        cached = self._memo.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        answer = compute()
        self._memo[name] = (key, answer)
        return answer

    def _open(self, signature: tuple) -> _Generation:
        # Not duckdb.connect(path): DuckDB caches one database instance per path and process, so a
        # second connect would hand back the old, replaced file. A fresh in-memory database that
        # attaches the file read-only always opens what the path names now.
        con = duckdb.connect(":memory:")
        try:
            quoted = str(self.path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS published (READ_ONLY)")
            con.execute("USE published")
            changes = changes_from_audit_trail(con)
            return _Generation(signature, con, _changes_table(changes), changes.latest_run, changes.basis, _facets(con))
        except BaseException:
            con.close()
            raise

    def generation(self) -> _Generation:
        """The open published file, reopened when a night replaced it; acquired (release it)."""
        try:
            signature = _signature(self.path)
        except FileNotFoundError:
            raise WarehouseMissing(f"no published warehouse at {self.path}") from None
        with self._lock:
            current = self._generation
            if current is None or current.signature != signature:
                fresh = self._open(signature)
                if current is not None:
                    current.retire()
                self._generation = current = fresh
            current.acquire()
            return current

    @contextlib.contextmanager
    def cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, _Generation]]:
        """A cursor on the published file with ``_live_states`` and ``_changes`` registered."""
        generation = self.generation()
        try:
            with generation.lock:  # cursor(): its own connection to the same database, used by this thread only
                cursor = generation.con.cursor()
            try:
                cursor.execute("USE published")  # the default catalog is per connection
                cursor.register("_live_states", self.states.table())
                cursor.register("_changes", generation.changes)
                yield cursor, generation
            finally:
                cursor.close()
        finally:
            generation.release()

    def close(self) -> None:
        with self._lock:
            if self._generation is not None:
                self._generation.retire()
                self._generation = None

    # ------------------------------------------------------------ reads

    def findings(self, filters: dict[str, list[str]], page: int = 1, page_size: int = 100) -> dict:
        page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        page = max(1, int(page))
        where, params = _where(filters)
        with self.cursor() as (cur, _):
            # One pass: the window count is over every matching row, computed before LIMIT.
            rows = _rows(
                cur.execute(
                    f"SELECT {', '.join(API_FIELDS)}, count(*) OVER () AS _TOTAL FROM {LIVE_FINDINGS} AS f{where} "
                    f"ORDER BY {FINDING_ORDER} LIMIT ? OFFSET ?",
                    [*params, page_size, (page - 1) * page_size],
                )
            )
            if rows:
                total = rows[0]["_TOTAL"]
                for row in rows:
                    del row["_TOTAL"]
            else:  # a page past the end: count separately
                total = cur.execute(f"SELECT count(*) FROM {LIVE_FINDINGS} AS f{where}", params).fetchall()[0][0]
        return {
            "total": total,
            "page": page,
            "page_size": page_size,
            "pages": max(1, -(-total // page_size)),
            "filters": filters,
            "findings": rows,
        }

    def finding(self, finding_id: str) -> dict | None:
        if not FINDING_ID_PATTERN.fullmatch(finding_id or ""):
            return None
        with self.cursor() as (cur, _):
            rows = _rows(
                cur.execute(
                    f"SELECT {', '.join(API_FIELDS)} FROM {LIVE_FINDINGS} AS f WHERE FINDING_ID = ?", [finding_id]
                )
            )
            if not rows:
                return None
            occurrences = _rows(
                cur.execute(
                    "SELECT TRANSFER_ID, SOURCE_FILE, SOURCE_LINE, VALUE FROM audit.finding_occurrences "
                    "WHERE FINDING_ID = ? ORDER BY TRANSFER_ID, SOURCE_LINE NULLS FIRST",
                    [finding_id],
                )
            )
        return {**rows[0], "occurrences": occurrences}

    def summary(self) -> dict:
        """Counts (warehouse life cycle and live states) and the summary by rule."""
        return self._memoised("summary", self._summary)

    def _summary(self) -> dict:
        with self.cursor() as (cur, generation):
            counts = _rows(
                cur.execute(
                    f"""SELECT count(*) FILTER (STATUS = 'open' AND SEVERITY = 'reject') AS open_reject,
                               count(*) FILTER (STATUS = 'open' AND SEVERITY = 'warning') AS open_warning,
                               count(*) FILTER (CHANGE = 'new') AS new_since,
                               count(*) FILTER (CHANGE = 'resolved') AS resolved_since,
                               count(*) FILTER (STATUS = 'resolved') AS resolved_total,
                               {", ".join(f"count(*) FILTER (STATE = '{s}') AS state_{s}" for s in STATES)},
                               count(*) AS total
                        FROM {LIVE_FINDINGS} AS f"""
                )
            )[0]
            rules = rule_summary(cur, LIVE_FINDINGS)
            return {
                "counts": counts,
                "rules": rules,
                "latest_run": generation.latest_run,
                "basis": generation.basis,
            }

    def facets(self) -> dict:
        with self.cursor() as (_, generation):
            return generation.facets

    def overview(self) -> dict:
        """Sites, transfers and reconciliation: small tables, for the page's lower sections."""
        return self._memoised("overview", self._overview)

    def _overview(self) -> dict:
        with self.cursor() as (cur, generation):
            transfers = _rows(
                cur.execute(
                    f"SELECT {', '.join(TRANSFER_FIELDS)} FROM audit.transfers ORDER BY STUDYID, SITEID, TRANSFER_ID"
                )
            )
            reconciliation = _rows(
                cur.execute(
                    f"SELECT {', '.join(RECONCILIATION_FIELDS)} FROM audit.reconciliation "
                    "ORDER BY STUDYID, SITEID, TRANSFER_ID, DOMAIN"
                )
            )
            sites = _rows(
                cur.execute(
                    f"""WITH keys AS (SELECT STUDYID, SITEID FROM audit.transfers
                                      UNION SELECT STUDYID, SITEID FROM audit.findings)
                        SELECT k.STUDYID AS study, k.SITEID AS site, k.STUDYID || '/' || k.SITEID AS key,
                               coalesce((SELECT max(TRANSFER_ID) FROM audit.transfers t WHERE t.STUDYID = k.STUDYID
                                         AND t.SITEID = k.SITEID AND t.CURRENT = 'Y'), 'none accepted') AS current,
                               count(f.FINDING_ID) FILTER (f.STATUS = 'open' AND f.SEVERITY = 'reject') AS open_reject,
                               count(f.FINDING_ID) FILTER (f.STATUS = 'open' AND f.SEVERITY = 'warning')
                                   AS open_warning,
                               count(f.FINDING_ID) FILTER (f.CHANGE = 'new') AS new,
                               count(f.FINDING_ID) FILTER (f.CHANGE = 'resolved') AS resolved_since
                        FROM keys AS k LEFT JOIN {LIVE_FINDINGS} AS f ON f.STUDYID = k.STUDYID AND f.SITEID = k.SITEID
                        GROUP BY ALL ORDER BY k.STUDYID, k.SITEID"""
                )
            )
            _, landed = read_pulls(cur)
            for transfer in transfers:  # where and when each landed transfer was pulled from
                transfer["PULLED"] = landed.get((transfer["STUDYID"], transfer["SITEID"], transfer["TRANSFER_ID"]))
            published = os.stat(self.path).st_mtime
            return {
                "transfers": transfers,
                "reconciliation": reconciliation,
                "sites": sites,
                "latest_run": generation.latest_run,
                "basis": generation.basis,
                "published_mtime": published,
            }
