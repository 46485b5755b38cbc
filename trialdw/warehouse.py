"""The warehouse's files: one writer, atomic publish, readers never blocked.

Beside ``--warehouse out/trialdw.duckdb``:

- ``trialdw.duckdb``: the published file, current data only (every study's
  tables and the audit trail). Never written in place: a night assembles a
  private file beside it and moves it over the published one with
  ``os.replace`` (atomic on one filesystem); readers holding the old file keep
  reading the old inode.
- ``trialdw-history.duckdb``: the history store, what every site ever sent as
  record versions plus the audit trail (trialdw.history). Written in place by
  the night, one transaction per transfer, so a killed run loses at most the
  transfer it was loading (rolled back on the next open). Nobody else opens it.
- ``.trialdw-work/``: a run's scratch files (parsed and validated Parquet, the
  build files); ``.trialdw-dbt/``: dbt's target folder, kept between nights for
  partial parsing.

DuckDB allows one writer process per file; the writer lock makes the night the
only writer of all of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from trialdw.ops import testhook
from trialdw.project import PROJECT_ROOT

AUDIT_DDL = Path(__file__).with_name("sql") / "audit.sql"
# How much write-ahead log the history store gathers before DuckDB folds it into
# the file. A transfer's domain files are mostly smaller than a row group, so
# their rows go through the log; at DuckDB's default (16 MB) nearly every
# transfer's COMMIT ran a checkpoint (12.6 s of COMMITs in make bench's first
# night; its ingest now takes ~6 s less). Larger thresholds gained little more
# and kept more uncheckpointed rows in memory (512 MB: +0.3 GB). Committed
# transfers are as durable in the log (replayed on the next open); closing the
# store checkpoints.
HISTORY_CHECKPOINT_THRESHOLD = "128MB"


class WarehouseBusy(RuntimeError):
    """Another run holds the writer lock."""


@dataclass(frozen=True)
class WarehousePaths:
    """Where a warehouse and what it produces live: all beside FILE."""

    published: Path

    @property
    def folder(self) -> Path:
        return self.published.parent

    @property
    def lock(self) -> Path:
        return self.folder / f".{self.published.name}.lock"

    def building(self, run_id: str) -> Path:
        return self.folder / f".{self.published.name}.building-{run_id}"

    def building_base(self, run_id: str) -> Path:
        """Tonight's file begun from last night's during the build (trialdw.publish.start_from_last_night)."""
        return self.folder / f".{self.published.name}.building-{run_id}.base"

    @property
    def reports(self) -> Path:
        return self.folder / f"{self.published.stem}-reports"

    @property
    def exports(self) -> Path:
        """Parquet/XPT copies per run and study, with a stable ``latest`` link."""
        return self.folder / f"{self.published.stem}-exports"

    def reports_building(self, run_id: str) -> Path:
        return self.folder / f".{self.reports.name}.building-{run_id}"

    @property
    def run_log(self) -> Path:
        """Append-only log of every run, failures included (trialdw.ops.runlog)."""
        return self.folder / f"{self.published.stem}-runs.jsonl"

    @property
    def annotations(self) -> Path:
        """Data managers' query states and their history (SQLite, append-only, survives every night)."""
        return self.folder / f"{self.published.stem}-annotations.sqlite"

    @property
    def users(self) -> Path:
        """Accounts of the review app (scrypt hashes, mode 0600)."""
        return self.folder / f"{self.published.stem}-users.json"

    @property
    def failed_runs(self) -> Path:
        """What a failed run leaves for a person to read (its readiness results), one folder per run.
        Beside, not inside, the reports folder: publishing replaces that one whole."""
        return self.folder / f"{self.published.stem}-failed-runs"

    @property
    def work(self) -> Path:
        """Scratch space for a run's intermediate files (Parquet, build files)."""
        return self.folder / f".{self.published.stem}-work"

    @property
    def builds(self) -> Path:
        """Where the night's build files go (``<group>/build.duckdb``). The same
        path every night: dbt's partial parse is only valid for the profile (and
        so the database path) it was parsed with."""
        return self.work / "builds"

    @property
    def history(self) -> Path:
        """The history store: record versions of every transfer and the audit trail."""
        return self.folder / f"{self.published.stem}-history.duckdb"

    @property
    def dbt_state(self) -> Path:
        """dbt's target folder, kept between nights (partial parse)."""
        return self.folder / f".{self.published.stem}-dbt"


@contextlib.contextmanager
def writer_lock(paths: WarehousePaths):
    """Hold the single-writer lock for the duration of a run.

    ``flock`` is released by the kernel when the process dies, so a killed run
    never leaves a stale lock behind.
    """
    paths.folder.mkdir(parents=True, exist_ok=True)
    handle = open(paths.lock, "a+")  # noqa: SIM115 (held for the whole run, closed in finally)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Refuse rather than wait: a scheduled night that finds another run
            # going on has nothing to add, and a person gets the answer at once.
            holder = paths.lock.read_text().strip() or "?"
            raise WarehouseBusy(
                f"another trialdw run is writing {paths.published} (pid {holder}); try again when it has finished"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def remove_stale_building_files(paths: WarehousePaths) -> list[Path]:
    """Under the lock, leftovers of killed or failed runs are garbage: remove them."""
    stale = sorted(paths.folder.glob(f".{paths.published.name}.building-*"))
    for path in stale:
        path.unlink(missing_ok=True)
    for folder in paths.folder.glob(f".{paths.reports.name}.building-*"):
        shutil.rmtree(folder, ignore_errors=True)
    if paths.work.exists():
        shutil.rmtree(paths.work, ignore_errors=True)
    return stale


def open_history(paths: WarehousePaths, contracts: dict):
    """The history store, read-write, with its schemas in place (idempotent).

    Opening replays DuckDB's write-ahead log: a transfer whose transaction a
    killed run left open is rolled back here, and loaded again by this run."""
    from trialdw import history
    from trialdw.ingest.load import ensure_audit

    paths.folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.history), config={"checkpoint_threshold": HISTORY_CHECKPOINT_THRESHOLD})
    ensure_audit(con)
    history.ensure_history(con, contracts)
    return con


def table_exists(con, schema: str, table: str) -> bool:
    """Has the DuckDB connection's database ``schema.table`` (a table or a view)?
    Files written before a table existed (audit.pulls, audit.study_builds…) lack it."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )  # fetchall: DuckDB 2 refuses new work while a result is unfinished


def published_by(published: Path) -> str | None:
    """The run that wrote the published file: the last run its audit.runs holds
    as completed (a night records itself there just before it publishes, and
    the file holds no later run). None without a published file or audit.runs."""
    if not Path(published).is_file():
        return None
    with duckdb.connect(str(published), read_only=True) as con:
        if not table_exists(con, "audit", "runs"):
            return None
        row = con.execute(
            "SELECT RUN_ID FROM audit.runs WHERE STATUS = 'completed' ORDER BY STARTED_AT DESC, RUN_ID DESC LIMIT 1"
        ).fetchone()
    return row[0] if row else None


def publish(building: Path, paths: WarehousePaths) -> Path:
    """Atomically make ``building`` the published warehouse."""
    with duckdb.connect(str(building)) as con:
        con.execute("CHECKPOINT")  # fold the WAL into the file before it moves
    wal = building.with_name(building.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} still exists after CHECKPOINT; refusing to publish")
    with open(building, "rb") as fh:
        os.fsync(fh.fileno())
    testhook.pause_here("publish")
    os.replace(building, paths.published)
    dir_fd = os.open(paths.folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return paths.published


def replace_folder(new: Path, target: Path) -> None:
    """Swap a freshly written report folder in place of the old one."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """How statisticians (and tests) open the published warehouse."""
    return duckdb.connect(str(path), read_only=True)


def adam_rows_by_study(path: Path) -> dict[str, int]:
    """Rows of each study over the adam tables of the DuckDB file at ``path``
    (read-only): how much work a study's endpoints, pages and exports are, so
    the largest are started first (trialdw.parallel.map_shares ``size``)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'adam' AND column_name = 'STUDYID' ORDER BY 1"
        ).fetchall()
        if not tables:
            return {}
        counts = " UNION ALL ".join(f'SELECT STUDYID, count(*) AS n FROM adam."{t}" GROUP BY 1' for (t,) in tables)
        return dict(con.execute(f"SELECT STUDYID, sum(n)::BIGINT FROM ({counts}) GROUP BY 1").fetchall())


def code_version() -> str:
    """Git commit of the checkout when there is one, else the package version."""
    head = PROJECT_ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            ref_file = PROJECT_ROOT / ".git" / ref[5:]
            if ref_file.exists():
                return ref_file.read_text().strip()[:12]
            packed = PROJECT_ROOT / ".git" / "packed-refs"
            for line in packed.read_text().splitlines() if packed.exists() else []:
                if line.endswith(ref[5:]):
                    return line.split()[0][:12]
        else:
            return ref[:12]
    except OSError:
        pass
    from importlib.metadata import version

    return f"trialdw {version('trialdw')}"
