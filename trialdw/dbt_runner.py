"""Run the dbt project (staging -> intermediate -> adam, data review) in-process.

``dbt_build`` is what the nightly flow calls after the build file holds its
studies' current rows: ``dbt build`` against one DuckDB file, returning a small,
picklable summary with one line per failed node so the flow can say why.

At night (``nightly=True``) dbt does production work only: models and the
data tests of what dbt derives; unit tests and the staging tests that re-assert
the data contracts (tag ``contract``) run in ``make test``. The project is parsed at
most once per code version on the machine (``DbtSession.manifest``: the manifest is
kept by trialdw.dbt_manifest_cache) and every build reuses it; loading it takes
a fraction of a second.

Every build file of a night is named ``build.duckdb`` (in its own folder):
dbt-duckdb names the database after the file, so one manifest serves them all.

Two engines, one project: ``target`` names the profile's output
(dbt_project/profiles.yml): ``warehouse`` (dbt-duckdb, the default) or
``spark`` (dbt-spark, ``method: session``: the SparkSession the process
started, ``trialdw.engines.spark_session``). ``schema_prefix`` (the dbt var of
that name) prefixes every schema dbt reads and writes (``g1_`` -> ``g1_raw``
... ``g1_adam``): several builds in one Spark warehouse. Schemas are set when
dbt parses, so the session keeps one manifest (and one target folder, for
partial parse) per prefix.

dbt is imported inside the functions: importing it costs seconds.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trialdw.project import PROJECT_ROOT

# Node statuses dbt reports; anything else (error, fail, runtime error) is a failure.
_OK_STATUSES = {"success", "pass"}
_NEUTRAL_STATUSES = {"skipped", "no-op", "warn"}
BUILD_FILE_NAME = "build.duckdb"
# The dbt project's name (dbt_project.yml): its macros' package.
PROJECT_PACKAGE = "trialdw"
# The profile's outputs (dbt_project/profiles.yml).
TARGETS = ("warehouse", "spark")
DEFAULT_TARGET = "warehouse"
# The dbt var that prefixes every schema (macro generate_schema_name, staging/_sources.yml).
SCHEMA_PREFIX_VAR = "schema_prefix"
# Staging tests that re-assert what the data contracts decided (dbt_project.yml):
# run in make test, skipped at night.
CONTRACT_TAG = "contract"

Progress = Callable[[int, int, str, str], None]  # (done, total, node name, status)


@dataclass(frozen=True)
class DbtBuildResult:
    success: bool
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    unit_tests_passed: int = 0
    unit_tests_failed: int = 0
    warnings: int = 0
    skipped: int = 0
    failures: tuple[str, ...] = field(default_factory=tuple)  # "node: message", one per failed node
    failed_models: tuple[str, ...] = field(default_factory=tuple)  # models that did not build

    def summary(self) -> str:
        state = "ok" if self.success else "FAILED"
        return (
            f"dbt build {state}: {self.models_built} models, "
            f"{self.tests_passed} tests passed / {self.tests_failed} failed, "
            f"{self.unit_tests_passed} unit tests passed / {self.unit_tests_failed} failed, "
            f"{self.warnings} warnings, {self.skipped} skipped"
        )


def dbt_project_dir() -> Path:
    """The folder holding dbt_project.yml (the repository root)."""
    return PROJECT_ROOT


def dbt_profiles_dir() -> Path:
    return PROJECT_ROOT / "dbt_project"


def _common_args(target_dir: Path, log_level: str, target: str = DEFAULT_TARGET, schema_prefix: str = "") -> list[str]:
    extra = ["--target", target]
    if schema_prefix:
        extra += ["--vars", json.dumps({SCHEMA_PREFIX_VAR: schema_prefix})]
    return [
        *extra,
        "--project-dir",
        str(dbt_project_dir()),
        "--profiles-dir",
        str(dbt_profiles_dir()),
        "--target-path",
        str(target_dir / "target"),
        "--log-path",
        str(target_dir / "logs"),
        "--log-level",
        log_level,
        "--log-level-file",
        "none",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
    ]


class DbtSession:
    """One parse of the project, reused by every build of a night.

    ``state_dir`` keeps dbt's target folder (partial parse) between nights;
    None: a temporary folder (tests, one-off builds). ``target``: the profile
    output, ``warehouse`` (DuckDB) or ``spark`` (the process's SparkSession,
    started before the first build)."""

    def __init__(
        self, state_dir: Path | None = None, log_level: str = "warn", target: str = DEFAULT_TARGET,
        write_json: bool = True, log: Callable[[str], None] | None = None,
    ):  # fmt: skip
        if target not in TARGETS:
            raise ValueError(f"unknown dbt target {target!r} (one of {', '.join(TARGETS)})")
        self._temp = None
        if state_dir is None:
            self._temp = tempfile.TemporaryDirectory(prefix="trialdw-dbt-")
            state_dir = Path(self._temp.name)
        self.state_dir = Path(state_dir)
        self.log_level = log_level
        self.target = target
        # False: builds write no manifest.json, run_results.json or graph into the
        # target folder (~0.4 s a build); only the lineage page reads them.
        self.write_json = write_json
        # Given: a build's dbt warnings and errors go to ``log`` (the night's run log)
        # instead of dbt's console logger, which formats every event of a build
        # (~4,900 for the demo's) to print the few at ``log_level``.
        self.log = log
        self._manifests: dict[str, object] = {}

    def _state_dir(self, schema_prefix: str) -> Path:
        """dbt's target folder of one schema prefix (its partial parse is only
        valid for the vars it was parsed with)."""
        if not schema_prefix:
            return self.state_dir
        return self.state_dir / "schema_prefix" / schema_prefix

    def _args(self, schema_prefix: str, log_level: str | None = None) -> list[str]:
        level = log_level or self.log_level
        return _common_args(self._state_dir(schema_prefix), level, self.target, schema_prefix)

    def manifest(self, db_path: Path | None = None, *, schema_prefix: str = ""):
        """Parse once per schema prefix: the manifest this code version was parsed
        into before (trialdw.dbt_manifest_cache), else dbt's parse (partial when
        the target folder has one), kept for the next warehouse."""
        from dbt.cli.main import dbtRunner

        from trialdw import dbt_manifest_cache

        _check_prefix(schema_prefix)
        if schema_prefix not in self._manifests:
            self._state_dir(schema_prefix).mkdir(parents=True, exist_ok=True)
            database = Path(db_path).stem if db_path is not None and self.target == DEFAULT_TARGET else ""
            key = dbt_manifest_cache.manifest_key(self.target, schema_prefix, database)
            manifest = dbt_manifest_cache.load(key)
            if manifest is None:
                with _db_env(db_path):
                    outcome = dbtRunner().invoke(["parse", *self._args(schema_prefix)])
                if not outcome.success:
                    raise RuntimeError(f"dbt parse failed: {outcome.exception}")
                manifest = outcome.result
                dbt_manifest_cache.save(key, manifest)
            self._manifests[schema_prefix] = manifest
        return self._manifests[schema_prefix]

    def build(
        self,
        db_path: Path | None = None,
        *,
        select: str | None = None,
        nightly: bool = False,
        progress: Progress | None = None,
        schema_prefix: str = "",
        exclude: tuple[str, ...] = (),
    ) -> DbtBuildResult:
        """``dbt build`` against ``db_path`` (the DuckDB target; the file is
        released on return) or in the SparkSession (the spark target, where
        ``db_path`` only names the build and may be None).

        ``nightly``: models and data tests only (unit tests run in ``make test``).
        ``exclude``: more nodes left out (dbt selectors, e.g. ``tag:single_cell``;
        the tests of a left-out model go with it).
        ``schema_prefix``: read ``<prefix>raw`` ... and write ``<prefix>adam`` ...."""
        from dbt.cli.main import dbtRunner

        db_path = Path(db_path).resolve() if db_path is not None else None
        manifest = self.manifest(db_path, schema_prefix=schema_prefix)
        args = ["build", *self._args(schema_prefix, "none" if self.log else None)]
        # Threads: the profile's (dbt_project/profiles.yml), per target.
        if select:
            args += ["--select", select]
        if nightly:
            args += ["--exclude-resource-type", "unit_test", "--exclude", f"tag:{CONTRACT_TAG}", *exclude]
        elif exclude:
            args += ["--exclude", *exclude]
        if not self.write_json:
            args.append("--no-write-json")
        callbacks = [_progress_callback(progress, manifest, select, nightly, exclude)] if progress else []
        if self.log:
            callbacks.append(_warnings_callback(self.log))
        with _db_env(db_path), _spark_settings_kept(self.target):
            try:
                outcome = dbtRunner(manifest=manifest, callbacks=callbacks).invoke(args)
            finally:
                _release_duckdb_file()
        return _summarise(outcome)

    def docs(self, db_path: Path, out_dir: Path) -> Path:
        """dbt's documentation site (models, sources, columns, tests, lineage graph)
        as one self-contained page, ``out_dir/index.html``, for reading from disk.

        ``dbt docs generate --static`` against ``db_path`` (a build file: its
        catalog gives column types and the comments persist_docs wrote) without
        compiling again (the build just did); dbt embeds the manifest and catalog
        in ``static_index.html``, which needs no server. The page loads nothing
        from the network (tests/test_lineage_docs.py checks it)."""
        import shutil

        from dbt.cli.main import dbtRunner

        db_path = Path(db_path).resolve()
        manifest = self.manifest(db_path)
        args = ["docs", "generate", "--static", "--no-compile", *self._args("")]
        with _db_env(db_path):
            try:
                outcome = dbtRunner(manifest=manifest).invoke(args)
            finally:
                _release_duckdb_file()
        page = self.state_dir / "target" / "static_index.html"
        if not outcome.success or not page.is_file():
            raise RuntimeError(f"dbt docs generate failed: {outcome.exception}")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / "index.html"
        shutil.copyfile(page, target)
        return target

    def close(self) -> None:
        if self._temp is not None:
            self._temp.cleanup()


def warm_up(session: DbtSession, scratch: Path, enough: threading.Event | None = None) -> None:
    """Do a process's one-time dbt work before its first build: the import, the
    parsed project (``session.manifest``), and what dbt's first invocation in a
    process pays once (the project and profile validated against JSON schemas
    built on first use, the graph linked): ``dbt ls`` of one model, with no
    output and no artifacts, its target folder ``scratch``. No database is
    opened. Saves the first build ~0.5 s (trialdw.dbt_worker runs it while the
    night ingests). Then the macros' templates (``compile_macro_templates``),
    until ``enough`` is set."""
    from dbt.cli.main import dbtRunner

    placeholder = scratch / BUILD_FILE_NAME  # the manifest's database name; never created
    manifest = session.manifest(placeholder)
    (scratch / "target").mkdir(parents=True, exist_ok=True)  # dbt writes graph_summary.json there
    args = ["ls", "--select", "adsl", "--output", "name", "--no-write-json", *_common_args(scratch, "none")]
    with _db_env(placeholder):
        outcome = dbtRunner(manifest=manifest).invoke(args)
    if not outcome.success:
        raise RuntimeError(f"dbt ls failed: {outcome.exception}")
    compile_macro_templates(manifest, enough)


def compile_macro_templates(manifest, enough: threading.Event | None = None) -> int:
    """Compile the Jinja of the manifest's macros into dbt's template cache, until
    ``enough`` is set; returns how many were compiled.

    Why: dbt compiles a macro's Jinja the first time a process calls it, and keeps
    it for the process (dbt_common's ``template_cache``, keyed by the macro's
    text). A build uses ~90 of the manifest's ~560 macros, so a process's first
    build paid ~0.3 s of compiling that later builds do not (a one-study build:
    3.9 -> 3.6 s, paired runs); a night's dbt process builds once. All ~560 take
    ~1.5 s of CPU, so the project's and the adapter's come first, and the worker
    sets ``enough`` when a build wants dbt rather than make it wait."""
    from dbt_common.clients.jinja import template_cache

    first = {PROJECT_PACKAGE: 0, "dbt_duckdb": 1}
    compiled = 0
    for macro in sorted(manifest.macros.values(), key=lambda m: first.get(m.package_name, 2)):
        if enough is not None and enough.is_set():
            break
        template_cache.get_node_template(macro)
        compiled += 1
    return compiled


def dbt_build(
    db_path: Path | None,
    *,
    select: str | None = None,
    log_level: str = "warn",
    target: str = DEFAULT_TARGET,
    schema_prefix: str = "",
    nightly: bool = False,
) -> DbtBuildResult:
    """``dbt build`` (models, data tests and unit tests) against ``db_path``, parsed
    afresh in a temporary target folder (tests and one-off builds)."""
    session = DbtSession(log_level=log_level, target=target)
    try:
        return session.build(db_path, select=select, schema_prefix=schema_prefix, nightly=nightly)
    finally:
        session.close()


def _progress_callback(progress: Progress, manifest, select: str | None, nightly: bool, exclude: tuple[str, ...] = ()):
    """A dbt event callback that reports each finished node: (done, total, name, status).
    ``exclude``: build's (``tag:`` selectors): those nodes and the tests on them are not counted."""
    kinds = {"model", "test"} | (set() if nightly else {"unit_test"})
    left_out = {e.removeprefix("tag:") for e in exclude} | ({CONTRACT_TAG} if nightly else set())
    excluded = {uid for uid, n in manifest.nodes.items() if left_out & set(n.tags)}

    def counted(uid: str, node) -> bool:
        kind = str(node.resource_type).split(".")[-1].lower()
        return kind in kinds and uid not in excluded and not (kind == "test" and excluded & set(node.depends_on.nodes))

    total = sum(1 for uid, node in manifest.nodes.items() if counted(uid, node))
    if hasattr(manifest, "unit_tests") and not nightly:
        total += len(manifest.unit_tests)
    done = 0
    counting = threading.Lock()  # nodes finish on dbt's threads (the profile's threads)

    def on_event(event) -> None:
        nonlocal done
        if event.info.name != "NodeFinished":
            return
        node = event.data.node_info
        with counting:
            done += 1
            progress(done, total if not select else max(done, total), node.node_name, node.node_status)

    return on_event


def _warnings_callback(log: Callable[[str], None]):
    """A dbt event callback passing on the text of warn and error events, with
    dbt's own secret scrubbing (DBT_ENV_SECRET_* values), as its console would."""
    from dbt_common.events.functions import env_scrubber

    def on_event(event) -> None:
        if event.info.level in ("warn", "error") and event.info.msg:
            log(env_scrubber(event.info.msg))

    return on_event


def _summarise(outcome) -> DbtBuildResult:
    if outcome.exception is not None and outcome.result is None:
        return DbtBuildResult(success=False, failures=(f"dbt: {outcome.exception}",))
    counts = {
        "models": 0,
        "tests_ok": 0,
        "tests_failed": 0,
        "unit_ok": 0,
        "unit_failed": 0,
        "warnings": 0,
        "skipped": 0,
    }
    failures: list[str] = []
    for node_result in getattr(outcome.result, "results", None) or []:
        node = node_result.node
        kind = str(node.resource_type).split(".")[-1].lower()
        status = str(node_result.status).split(".")[-1].lower()
        if status in _OK_STATUSES:
            if kind == "model":
                counts["models"] += 1
            elif kind == "unit_test":
                counts["unit_ok"] += 1
            elif kind == "test":
                counts["tests_ok"] += 1
            continue
        if status == "warn":
            counts["warnings"] += 1
            continue
        if status in _NEUTRAL_STATUSES:
            counts["skipped"] += 1
            continue
        if kind == "unit_test":
            counts["unit_failed"] += 1
        elif kind == "test":
            counts["tests_failed"] += 1
        message = " ".join(str(node_result.message or status).split())
        failures.append(f"{node.name}: {message[:500]}")
    if outcome.exception is not None:
        failures.append(f"dbt: {outcome.exception}")
    return DbtBuildResult(
        success=bool(outcome.success) and not failures,
        models_built=counts["models"],
        tests_passed=counts["tests_ok"],
        tests_failed=counts["tests_failed"],
        unit_tests_passed=counts["unit_ok"],
        unit_tests_failed=counts["unit_failed"],
        warnings=counts["warnings"],
        skipped=counts["skipped"],
        failures=tuple(failures),
    )


def _release_duckdb_file() -> None:
    """Close dbt-duckdb's database and drop dbt's cached adapter.

    ``keep_open: true`` (profiles.yml) keeps one DuckDB connection for the whole
    build; dbt-duckdb forgets it on cleanup without closing it, and an open
    database in this process would keep the file's WAL unfolded (a later
    os.replace would move a file without its last writes). So it is closed here,
    explicitly; tests/test_dbt_transform.py checks the file can then be reopened
    read-write and moved. Resetting the adapter means nothing of this build
    survives in the process: the next build (another file) starts clean.
    """
    from dbt.adapters.factory import cleanup_connections, reset_adapters

    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter (the Spark engine)
        DuckDBConnectionManager = None
    cleanup_connections()
    if DuckDBConnectionManager is not None:
        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
                DuckDBConnectionManager._ENV = None
    reset_adapters()


def _check_prefix(schema_prefix: str) -> None:
    """Schema names stay plain identifiers on both engines (lower case on Spark)."""
    if schema_prefix and not re.fullmatch(r"[a-z][a-z0-9_]*", schema_prefix):
        raise ValueError(f"schema prefix {schema_prefix!r}: lower-case letters, digits and underscores")


def _db_env(db_path: Path | None):
    """TRIALDW_DB_PATH for the profile's DuckDB target (unset: a placeholder, the
    spark target does not read it)."""
    return _env("TRIALDW_DB_PATH", str(db_path) if db_path is not None else os.devnull)


class _spark_settings_kept:
    """dbt-spark sets spark.sql.ansi.enabled=false on the process's session (before
    every statement) and leaves it so: put back what the session had, so the
    Python steps after dbt run with the session's own settings."""

    KEYS = ("spark.sql.ansi.enabled",)

    def __init__(self, target: str):
        self.target, self.saved, self.spark = target, {}, None

    def __enter__(self):
        if self.target != "spark":
            return
        from trialdw.engines.spark_session import running_spark_session

        self.spark = running_spark_session()
        if self.spark is not None:
            self.saved = {k: self.spark.conf.get(k, None) for k in self.KEYS}

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                self.spark.conf.unset(key)
            else:
                self.spark.conf.set(key, value)


class _env:
    """Set one environment variable for the duration of a ``with`` block."""

    def __init__(self, key: str, value: str):
        self.key, self.value, self.saved = key, value, None

    def __enter__(self):
        self.saved = os.environ.get(self.key)
        os.environ[self.key] = self.value

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop(self.key, None)
        else:
            os.environ[self.key] = self.saved
