"""The history store: every row a site ever sent, kept as record versions.

Sites send cumulative snapshots, so storing each transfer in full would store a
site that exports nightly for two years ~700 times over. Instead each domain
keeps **record versions** (``history.<domain>``): one row per distinct content
of a record, identified by the spec's record key (the key values ``|``-joined,
``record_key_sql``) and a content hash (md5 of the values, ``row_hash_sql``).
A transfer that repeats a record unchanged reuses its version; a changed record
gets a new version. Key and hash are functions of the version's values, so
they are computed where they are read (``raw.<domain>._record_key``, the match
against the predecessor), not stored with each version: stored, they were
three quarters of the bench portfolio's store (308 → 73 MB) and a quarter of
its load time, as an md5 and a long key per row compress to almost nothing
less than themselves while the values they summarise compress well.

Which versions a transfer held, in which order and on which lines, is kept in
``history.layout`` as *runs*: consecutive records of the file whose version ids
and physical lines both go up by one. Unchanged records keep their ids, so a
new cumulative transfer is a handful of runs (one per stretch between inserts
and changes), not a row per record. ``history.changes`` (a view) says what
each transfer inserted, changed or dropped against the site's previous
accepted transfer: ``history.change_log`` holds what is written, and a site's
first transfer, whose records are all inserts, is only named in
``history.first_loads`` (its inserts are its runs; 4.7 M rows of keys not
written twice on the bench portfolio's first night).

Any accepted transfer is rebuilt exactly (values, ``_extra``, SOURCE_LINE) by
``raw.<domain>``: a view over layout and versions with the columns raw.* always
had. Nothing is ever updated or deleted: versions, runs and changes are only
appended, inside the transfer's transaction. (The one schema change: an older
store's versions carried ``_record_key`` and ``_row_hash`` columns, which are
dropped on opening, ``DERIVED_BEFORE``; they held nothing the values do not.)

Algorithm of ``load_domain`` (one validated domain file of one transfer):
 1. read the valid rows (Parquet) and compute record key and hash (kept narrow:
    line, key, hash; the values are read again only for the new versions);
 2. take the versions of the site's previous accepted transfer (the predecessor
    in TRANSFER_ID order), their key and hash computed from their values the
    same way, and match by record key: same hash → same version;
    different hash → ``changed``; no such key → ``inserted``; a key of the
    predecessor missing now → ``dropped``;
 3. number the new versions after the domain's highest id, by line (``base +
    line``: increasing in file order, not necessarily dense);
 4. cut the file into runs (gaps and islands over version id and line);
 5. append versions, runs and changes (load.load_transfer then proves the
    transfer's loaded counts from the runs, domain by domain).
Two shorter roads lead to the same rows: a site's first accepted transfer, where
nothing can match (``_load_first``), and a file sent again byte for byte, whose
records are the predecessor's on the same lines (``_load_same_file``: its runs
are copied, nothing is hashed).
"""

from __future__ import annotations

import hashlib

LINEAGE = ("_studyid", "_siteid", "_transfer_id", "_source_file", "_source_line", "_extra", "_record_key")
UNIT_SEPARATOR = "chr(31)"  # between values in the hashed text; NULL hashes as chr(0)

SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS history;
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS history.layout (
    DOMAIN         VARCHAR,
    STUDYID        VARCHAR,
    SITEID         VARCHAR,
    TRANSFER_ID    VARCHAR,
    FIRST_VERSION  BIGINT,   -- version id of the run's first record
    N              BIGINT,   -- records in the run (ids and lines both go up by one)
    FIRST_LINE     BIGINT    -- physical line of the run's first record (header = 1)
);
CREATE TABLE IF NOT EXISTS history.change_log (
    DOMAIN               VARCHAR,
    STUDYID              VARCHAR,
    SITEID               VARCHAR,
    TRANSFER_ID          VARCHAR,
    RECORD_KEY           VARCHAR,
    CHANGE               VARCHAR,   -- inserted / changed / dropped
    VERSION_ID           BIGINT,    -- the version this transfer holds (NULL when dropped)
    PREVIOUS_VERSION_ID  BIGINT     -- the predecessor's version (NULL when inserted)
);
-- A site's first accepted transfer of a domain: every record of it is inserted, so
-- its changes are not written out but read from its runs (the view history.changes).
CREATE TABLE IF NOT EXISTS history.first_loads (
    DOMAIN       VARCHAR,
    STUDYID      VARCHAR,
    SITEID       VARCHAR,
    TRANSFER_ID  VARCHAR
);
"""
# Columns a versions table of an older store had: the record key and the content
# hash, written with every version. Both are functions of the version's values
# (record_key_sql, row_hash_sql), so they are computed where they are read; kept,
# they were most of a large study's history store and of its load time.
DERIVED_BEFORE = ("_record_key", "_row_hash")
CHANGE_COLUMNS = "DOMAIN, STUDYID, SITEID, TRANSFER_ID, RECORD_KEY, CHANGE, VERSION_ID, PREVIOUS_VERSION_ID"


def versions_table(domain: str) -> str:
    return f"history.{domain.lower()}"


def raw_view(domain: str) -> str:
    return f"raw.{domain.lower()}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_history(con, contracts: dict) -> None:
    """Schemas, the versions table of every contract domain, and the raw.* views.

    A column added to a contract later is added to the versions table (older
    versions read NULL); nothing is dropped. Views are recreated when their SQL
    changed (a contract's columns, or this code), so they always list the
    contract's columns.

    Called whenever the store is opened (trialdw.warehouse.open_history,
    landing.ingest_landing), so it only reads the catalog when everything is in
    place: two queries, no DDL."""
    existing = dict(
        con.execute(
            "SELECT table_name, list(column_name) FROM information_schema.columns "
            "WHERE table_schema = 'history' GROUP BY table_name"
        ).fetchall()
    )
    if "changes" in existing and "change_log" not in existing:
        # A store from before history.changes was a view (SCHEMA_DDL, below, creates
        # the log): its table, first loads' inserts included, becomes the log (no
        # first_loads row names them twice).
        con.execute("ALTER TABLE history.changes RENAME TO change_log")
    con.execute(SCHEMA_DDL)
    view_tags = {
        (schema, name): comment
        for schema, name, comment in con.execute(
            "SELECT schema_name, view_name, comment FROM duckdb_views() "
            "WHERE schema_name IN ('raw', 'history') AND NOT temporary"
        ).fetchall()
    }
    for contract in contracts.values():
        _ensure_versions_table(con, contract, existing.get(contract.domain.lower()))
        _ensure_view(con, raw_view(contract.domain), transfer_rows_sql(contract), view_tags)
    _ensure_view(con, "history.changes", changes_sql(contracts.values()), view_tags)


def _ensure_view(con, name: str, view_sql: str, view_tags: dict) -> None:
    """(Re)create the view ``schema.name`` when its SQL is not the one it was made from.
    The view's own text is not kept as written (DuckDB renders it anew), so a
    digest of what we would write is kept as its comment and compared."""
    tag = "trialdw " + hashlib.sha256(view_sql.encode("utf-8")).hexdigest()[:16]
    if view_tags.get(tuple(name.split("."))) != tag:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {view_sql}")
        con.execute(f"COMMENT ON VIEW {name} IS '{tag}'")


def _ensure_versions_table(con, contract, existing: list[str] | None) -> None:
    """Create ``history.<domain>`` (``existing`` None) or add the contract's columns it lacks."""
    table = versions_table(contract.domain)
    if existing is None:
        columns = ", ".join(f"{_q(c)} VARCHAR" for c in contract.column_names)
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {table} (
                _version_id BIGINT, _studyid VARCHAR, _siteid VARCHAR, {columns}, _extra JSON,
                _first_transfer_id VARCHAR)"""
        )
        return
    for column in contract.column_names:
        if column not in existing:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {_q(column)} VARCHAR")
    for derived in DERIVED_BEFORE:
        if derived in existing:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {derived}")


def transfer_rows_sql(contract, layout_filter: str = "TRUE", catalog: str = "") -> str:
    """Rows of accepted transfers rebuilt from runs and versions, in raw.* layout.

    ``layout_filter`` selects runs (history.layout, alias ``l``) before they are
    expanded, e.g. to the sites' current transfers: only those runs are read.
    ``catalog``: the history store's name when it is attached to another file."""
    columns = ", ".join(f"v.{_q(c)}" for c in contract.column_names)
    domain = contract.domain
    prefix = f"{catalog}." if catalog else ""
    return f"""
        SELECT {columns},
               r.STUDYID AS _studyid, r.SITEID AS _siteid, r.TRANSFER_ID AS _transfer_id,
               r.STUDYID || '/' || r.SITEID || '/' || r.TRANSFER_ID || '/{domain}.csv' AS _source_file,
               r.FIRST_LINE + (r.VID - r.FIRST_VERSION) AS _source_line,
               v._extra, {record_key_sql(contract, "v")} AS _record_key
        FROM (SELECT l.*, unnest(range(l.FIRST_VERSION, l.FIRST_VERSION + l.N)) AS VID
              FROM {prefix}history.layout AS l WHERE l.DOMAIN = '{domain}' AND ({layout_filter})) AS r
        INNER JOIN {prefix}{versions_table(domain)} AS v ON v._version_id = r.VID"""


def changes_sql(contracts) -> str:
    """What each transfer inserted, changed or dropped: the written log, and the
    inserts of the sites' first transfers, which are every record of those
    transfers (their runs), so not written twice."""
    parts = [f"SELECT {CHANGE_COLUMNS} FROM history.change_log"]
    for contract in contracts:
        domain = contract.domain
        parts.append(
            f"""SELECT r.DOMAIN, r.STUDYID, r.SITEID, r.TRANSFER_ID, {record_key_sql(contract, "v")}, 'inserted',
                       v._version_id,
                       CAST(NULL AS BIGINT)
                FROM (SELECT l.*, unnest(range(l.FIRST_VERSION, l.FIRST_VERSION + l.N)) AS VID
                      FROM history.layout AS l
                      WHERE l.DOMAIN = '{domain}' AND EXISTS (
                          SELECT 1 FROM history.first_loads AS f WHERE f.DOMAIN = l.DOMAIN
                          AND f.STUDYID = l.STUDYID AND f.SITEID = l.SITEID AND f.TRANSFER_ID = l.TRANSFER_ID)) AS r
                INNER JOIN {versions_table(domain)} AS v ON v._version_id = r.VID"""
        )
    return "\nUNION ALL\n".join(parts)


def current_rows_sql(contract, studies: list[str] | None = None, catalog: str = "") -> str:
    """Rows of every site's current accepted transfer, of ``studies`` (None: all)."""
    prefix = f"{catalog}." if catalog else ""
    current = (
        f"EXISTS (SELECT 1 FROM {prefix}audit.transfers AS t WHERE t.CURRENT = 'Y' AND t.STUDYID = l.STUDYID "
        "AND t.SITEID = l.SITEID AND t.TRANSFER_ID = l.TRANSFER_ID)"
    )
    if studies is not None:
        listed = ", ".join("'" + s.replace("'", "''") + "'" for s in studies) or "NULL"
        current += f" AND l.STUDYID IN ({listed})"
    return transfer_rows_sql(contract, current, catalog)


def record_key_sql(contract, alias: str = "") -> str:
    """The record key as one text: the key values '|'-joined (site-exports.md, "Record keys").
    ``alias``: the relation the columns are read from."""
    at = f"{alias}." if alias else ""
    return "concat_ws('|', " + ", ".join(f"coalesce({at}{_q(k)}, '')" for k in contract.record_key) + ")"


def row_hash_sql(contract, alias: str = "") -> str:
    """md5 of every value of the record (contract columns and _extra, as JSON), as a 128-bit number."""
    at = f"{alias}." if alias else ""
    parts = [f"coalesce({at}{_q(c)}, chr(0))" for c in contract.column_names]
    parts.append(f"coalesce(CAST({at}_extra AS VARCHAR), chr(0))")
    return f"md5_number(concat_ws({UNIT_SEPARATOR}, {', '.join(parts)}))"


def predecessor(con, study: str, site: str, transfer_id: str) -> str | None:
    """The site's accepted transfer before ``transfer_id`` in TRANSFER_ID order (loaded into history)."""
    row = con.execute(
        """SELECT max(TRANSFER_ID) FROM audit.transfers
           WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID < ? AND STATUS IN ('accepted', 'superseded')""",
        [study, site, transfer_id],
    ).fetchone()
    return row[0] if row else None


def files_sent_again(con, ref, previous: str | None, files) -> set[str]:
    """Domains whose file (``files``: the transfer check's FileInfos) has the SHA-256
    of the one file of that domain the site's ``previous`` transfer had (audit.files)."""
    if previous is None:
        return set()
    before = dict(
        con.execute(
            "SELECT DOMAIN, min(SHA256) FROM audit.files WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ? "
            "AND STATUS = 'ok' GROUP BY DOMAIN HAVING count(*) = 1",
            [ref.study, ref.site, previous],
        ).fetchall()
    )
    return {
        f.domain
        for f in files
        if f.domain and f.status == "ok" and f.sha256 is not None and before.get(f.domain) == f.sha256
    }


def refuse_loaded_twice(con, ref) -> None:
    """Raise when the history already holds runs of transfer ``ref``."""
    loaded = con.execute(
        "SELECT min(DOMAIN) FROM history.layout WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?",
        [ref.study, ref.site, ref.transfer_id],
    ).fetchone()[0]
    if loaded is not None:
        raise RuntimeError(f"{ref.relpath} is already in the history ({loaded}); not loading it twice")


def load_domain(
    con, contract, ref, valid_path: str, rows_loaded: int, previous: str | None, sent_again: bool = False
) -> dict[str, int]:
    """Append one validated domain file of ``ref`` as versions + runs + changes.

    ``previous``: the site's previous accepted transfer (the match basis), or None.
    ``sent_again``: the file has the SHA-256 of the predecessor's file of the
    domain (``files_sent_again``; ``_load_same_file``). Returns counts by change
    kind. Runs inside the caller's transaction; the caller (load.load_transfer)
    refuses a transfer loaded before (``refuse_loaded_twice``) and proves the
    loaded rows from the runs.

    Only narrow temp tables (line, key, hash, ids) are built; the values are read
    from the Parquet file once more, straight into the versions table, for the new
    versions only. A wide copy of the file (or a sort of it) would cost more than
    the hashing itself."""
    site = [contract.domain, ref.study, ref.site]
    if previous is None:
        counts = _load_first(con, contract, ref, valid_path, site)
    elif (same := _load_same_file(con, contract, ref, valid_path, site, previous, sent_again, rows_loaded)) is not None:
        counts = same
    else:
        _previous_versions(con, contract, site, previous)
        _match(con, contract, valid_path)
        _insert_versions(con, contract, ref, valid_path)
        _insert_runs(con, site, ref.transfer_id)
        counts = _insert_changes(con, site, ref.transfer_id)
        for temp in ("_prev", "_matched"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    return counts | {"unchanged": rows_loaded - counts["inserted"] - counts["changed"]}


def _highest_version_id(con, contract) -> int:
    """The domain's highest version id so far (0 when empty): new versions are numbered after it."""
    return int(
        con.execute(f"SELECT coalesce(max(_version_id), 0) FROM {versions_table(contract.domain)}").fetchone()[0]
    )


def _load_first(con, contract, ref, valid_path: str, site: list[str]) -> dict[str, int]:
    """Steps 2–5 for a site's first accepted transfer, where nothing can match:
    every record is a new version (id ``base + line``), inserted straight from
    the Parquet file (one read of the values, nothing hashed, no temp table, no
    join); its runs are then read back from the versions just written
    (``_version_id > base``: this load's only, the night being the store's one
    writer), and its changes, all ``inserted``, are a row of
    ``history.first_loads`` (the view history.changes expands them). The same
    store as the general path (tests/test_history.py), in less than half its
    time on the first night of a large study."""
    table = versions_table(contract.domain)
    columns = ", ".join(_q(c) for c in contract.column_names)
    base = _highest_version_id(con, contract)
    (inserted,) = con.execute(
        f"""INSERT INTO {table} (_version_id, _studyid, _siteid, {columns}, _extra, _first_transfer_id)
            SELECT {base} + _source_line, ?, ?, {columns}, CAST(_extra AS JSON), ? FROM read_parquet(?)""",
        [ref.study, ref.site, ref.transfer_id, str(valid_path)],
    ).fetchone()
    # Runs: stretches of consecutive lines (ids follow lines one for one here).
    con.execute(
        f"""INSERT INTO history.layout
            SELECT ?, ?, ?, ?, min(_version_id), count(*), min(_version_id) - {base}
            FROM (SELECT _version_id, _version_id - row_number() OVER (ORDER BY _version_id) AS _run
                  FROM {table} WHERE _version_id > {base})
            GROUP BY _run ORDER BY 7""",
        [*site, ref.transfer_id],
    )
    # Its changes are all inserts: the view history.changes reads them from the runs.
    con.execute("INSERT INTO history.first_loads VALUES (?, ?, ?, ?)", [*site, ref.transfer_id])
    return {"inserted": inserted, "changed": 0, "dropped": 0}


def _load_same_file(
    con, contract, ref, valid_path: str, site: list[str], previous: str, sent_again: bool, rows_loaded: int
) -> dict[str, int] | None:
    """Steps 2–5 for a file the site sends again byte for byte (a domain nobody
    touched since the previous export: on the bench portfolio, the single-cell
    expression files, 3.5 M of its 9.5 M rows). Same bytes, same records on the
    same lines, so the general steps would match every record to the version the
    predecessor held on that line and cut the same runs; here the predecessor's
    runs are copied instead of hashing every record again. None (take the general
    steps) unless all of these hold:
     1. the predecessor's file of the domain has the same SHA-256 (``sent_again``:
        ``files_sent_again``, one query per transfer);
     2. the same lines passed validation (validation may depend on other files,
        e.g. a subject's DM row): as many rows, and none on a line the
        predecessor did not hold;
     3. the first row's record key and content hash are those of the version the
        predecessor held on its line: a contract whose columns changed since
        (a column added, or one moved) hashes every record differently, and its
        records are then new versions, as on the general steps.
    Nothing is inserted, changed or dropped."""
    if not sent_again:
        return None
    predecessor_run = "DOMAIN = ? AND STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?"
    basis = [*site, previous]
    held, missing = con.execute(
        f"""SELECT (SELECT coalesce(sum(N), 0) FROM history.layout WHERE {predecessor_run}),
                   (SELECT count(*) FROM (SELECT _source_line FROM read_parquet(?)) AS n
                    ANTI JOIN (SELECT unnest(range(FIRST_LINE, FIRST_LINE + N)) AS _source_line
                               FROM history.layout WHERE {predecessor_run}) AS p USING (_source_line))""",
        [*basis, str(valid_path), *basis],
    ).fetchone()
    if held != rows_loaded or missing:
        return None
    if rows_loaded and not _first_row_is_its_version(con, contract, valid_path, predecessor_run, basis):
        return None
    con.execute(
        f"""INSERT INTO history.layout
            SELECT DOMAIN, STUDYID, SITEID, ?, FIRST_VERSION, N, FIRST_LINE FROM history.layout
            WHERE {predecessor_run} ORDER BY FIRST_LINE""",
        [ref.transfer_id, *basis],
    )
    return {"inserted": 0, "changed": 0, "dropped": 0}


def _first_row_is_its_version(con, contract, valid_path: str, predecessor_run: str, basis: list) -> bool:
    """Step 3 of ``_load_same_file``: the file's first valid row has the record key
    and content hash of the version the predecessor held on its line. The row is
    read from the file once (its line, key and hash); the version is looked up
    by its id, so only that row of the versions table is read (its key and hash
    are computed from its values)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _first_row AS
            SELECT _source_line, {record_key_sql(contract)} AS _record_key, {row_hash_sql(contract)} AS _row_hash
            FROM (SELECT * REPLACE (CAST(_extra AS JSON) AS _extra) FROM (FROM read_parquet(?) LIMIT 1))""",
        [str(valid_path)],
    )
    version = con.execute(
        f"""SELECT FIRST_VERSION + (f._source_line - FIRST_LINE) FROM history.layout, _first_row AS f
            WHERE {predecessor_run} AND f._source_line BETWEEN FIRST_LINE AND FIRST_LINE + N - 1""",
        basis,
    ).fetchone()
    same = (
        bool(version)
        and con.execute(
            f"""SELECT count(*) = 1 FROM _first_row AS n,
            (SELECT {record_key_sql(contract, "v")} AS _record_key, {row_hash_sql(contract, "v")} AS _row_hash
             FROM {versions_table(contract.domain)} AS v WHERE v._version_id = ?) AS p
            WHERE p._record_key = n._record_key AND p._row_hash = n._row_hash""",
            [version[0]],
        ).fetchone()[0]
    )
    con.execute("DROP TABLE _first_row")
    return same


def _previous_versions(con, contract, site: list[str], previous: str | None) -> None:
    """2. ``_prev``: the versions the site's previous accepted transfer held (none for a first transfer)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _prev AS
            SELECT v._version_id, {record_key_sql(contract, "v")} AS _record_key,
                   {row_hash_sql(contract, "v")} AS _row_hash
            FROM (SELECT unnest(range(FIRST_VERSION, FIRST_VERSION + N)) AS VID FROM history.layout
                  WHERE DOMAIN = ? AND STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?) AS l
            INNER JOIN {versions_table(contract.domain)} AS v ON v._version_id = l.VID""",
        [*site, previous],
    )


def _match(con, contract, valid_path: str) -> None:
    """3. ``_matched``: line, record key and content hash of every valid row (the one pass that reads
    all values) and its version. Same key and hash as in the predecessor: its version; otherwise a
    new one, numbered ``base + line`` with base the domain's highest id. Ids so stay unique and
    follow the file's lines without numbering them (no sort): consecutive new records on
    consecutive lines still form one run. Ids may have gaps; nothing needs them dense."""
    base = _highest_version_id(con, contract)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _matched AS
            SELECT n._source_line, n._record_key, n._row_hash, p._version_id AS _prev_id,
                   (p._version_id IS NULL OR p._row_hash <> n._row_hash) AS _is_new,
                   CASE WHEN _is_new THEN {base} + n._source_line ELSE p._version_id END AS _vid
            FROM (SELECT _source_line, {record_key_sql(contract)} AS _record_key, {row_hash_sql(contract)} AS _row_hash
                  FROM (SELECT * REPLACE (CAST(_extra AS JSON) AS _extra) FROM read_parquet(?))) AS n
            LEFT JOIN _prev AS p USING (_record_key)""",
        [str(valid_path)],
    )


def _insert_versions(con, contract, ref, valid_path: str) -> None:
    """The new versions' values, read from the Parquet file and joined to their ids by line."""
    columns = ", ".join(_q(c) for c in contract.column_names)
    con.execute(
        f"""INSERT INTO {versions_table(contract.domain)} (_version_id, _studyid, _siteid, {columns}, _extra,
                                                         _first_transfer_id)
            SELECT m._vid, ?, ?, {columns}, CAST(s._extra AS JSON), ?
            FROM read_parquet(?) AS s
            INNER JOIN (SELECT _source_line, _vid FROM _matched WHERE _is_new) AS m
                    USING (_source_line)""",
        [ref.study, ref.site, ref.transfer_id, str(valid_path)],
    )


def _insert_runs(con, site: list[str], transfer_id: str) -> None:
    """4. Runs: a new run wherever the id or the line does not follow on from the previous record."""
    con.execute(
        """INSERT INTO history.layout
           WITH o AS (
               SELECT _vid, _source_line,
                      CASE WHEN _vid = lag(_vid) OVER w + 1 AND _source_line = lag(_source_line) OVER w + 1
                           THEN 0 ELSE 1 END AS _break
               FROM _matched WINDOW w AS (ORDER BY _source_line)),
           r AS (SELECT *, sum(_break) OVER (ORDER BY _source_line ROWS UNBOUNDED PRECEDING) AS _run FROM o)
           SELECT ?, ?, ?, ?, min(_vid), count(*), min(_source_line) FROM r GROUP BY _run ORDER BY 7""",
        [*site, transfer_id],
    )


def _insert_changes(con, site: list[str], transfer_id: str) -> dict[str, int]:
    """5. What changed against the predecessor; returns the counts by kind."""
    con.execute(
        """INSERT INTO history.change_log
           SELECT ?, ?, ?, ?, _record_key, CASE WHEN _prev_id IS NULL THEN 'inserted' ELSE 'changed' END,
                  _vid, _prev_id
           FROM _matched WHERE _is_new""",
        [*site, transfer_id],
    )
    dropped = con.execute(
        """INSERT INTO history.change_log
           SELECT ?, ?, ?, ?, p._record_key, 'dropped', NULL, p._version_id
           FROM _prev AS p ANTI JOIN _matched AS n USING (_record_key)""",
        [*site, transfer_id],
    ).fetchone()[0]
    inserted, changed = con.execute(
        "SELECT count(*) FILTER (_prev_id IS NULL), count(*) FILTER (_prev_id IS NOT NULL) FROM _matched WHERE _is_new"
    ).fetchone()
    return {"inserted": inserted, "changed": changed, "dropped": dropped}
