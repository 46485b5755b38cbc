"""Run the dbt project (staging -> intermediate -> adam) in-process.

``dbt_build`` is what the nightly flow calls after loading ``raw.*``: it runs
``dbt build`` (models, dbt tests and unit tests) against one DuckDB file and
returns a small, picklable summary, with one line per failed node so the flow
can say why the night stopped.

dbt is imported inside the function: importing it costs seconds.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from trialdw.project import PROJECT_ROOT

# Node statuses dbt reports; anything else (error, fail, runtime error) is a failure.
_OK_STATUSES = {"success", "pass"}
_NEUTRAL_STATUSES = {"skipped", "no-op", "warn"}


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


def dbt_build(db_path: Path, *, select: str | None = None, log_level: str = "warn") -> DbtBuildResult:
    """``dbt build`` against the DuckDB file ``db_path``; the file is released on return.

    Target and log folders are per-run temporary folders so that parallel runs
    (tests, the flow) never share dbt's artifacts.
    """
    from dbt.cli.main import dbtRunner

    db_path = Path(db_path).resolve()
    with tempfile.TemporaryDirectory(prefix="trialdw-dbt-") as work_dir, _env("TRIALDW_DB_PATH", str(db_path)):
        args = [
            "build",
            "--project-dir",
            str(dbt_project_dir()),
            "--profiles-dir",
            str(dbt_profiles_dir()),
            "--target-path",
            str(Path(work_dir) / "target"),
            "--log-path",
            str(Path(work_dir) / "logs"),
            "--log-level",
            log_level,
            "--log-level-file",
            "none",
            "--no-use-colors",
            "--no-send-anonymous-usage-stats",
            "--no-version-check",
            "--threads",
            "1",
        ]
        if select:
            args += ["--select", select]
        try:
            outcome = dbtRunner().invoke(args)
        finally:
            _release_duckdb_file()
    return _summarise(outcome)


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
    """Drop dbt's cached adapter and its DuckDB connections.

    ``keep_open: false`` in profiles.yml already makes dbt-duckdb close the
    file when its last cursor closes (tests/test_dbt_transform.py checks the
    file can be reopened read-write and moved). Resetting the adapter as well
    means nothing of this run survives in the process: the next build (another
    TRIALDW_DB_PATH, e.g. the next night's building file) starts clean.
    """
    from dbt.adapters.factory import cleanup_connections, reset_adapters

    cleanup_connections()
    reset_adapters()


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
