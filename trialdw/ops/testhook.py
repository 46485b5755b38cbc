"""Test-only pause points, so a test can kill a run at a known stage.

With ``TRIALDW_TEST_PAUSE_AT=<stage>`` (``ingest``, ``dbt``, ``publish`` or ``pull``) the
run writes its pid to the file named by ``TRIALDW_TEST_PAUSE_MARKER`` when it
reaches that stage, then sleeps until the test SIGKILLs it. Without the
variable a pause point is one dictionary lookup. Never set it in production.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT_ENV = "TRIALDW_TEST_PAUSE_AT"
MARKER_ENV = "TRIALDW_TEST_PAUSE_MARKER"
STAGES = ("ingest", "dbt", "publish", "pull")
PAUSE_SECONDS = 600  # longer than any test waits; the test kills the run long before


def pausing_at(stage: str) -> bool:
    return os.environ.get(PAUSE_AT_ENV) == stage


def pause_here(stage: str) -> None:
    """Announce that the run reached ``stage`` and wait there to be killed."""
    if not pausing_at(stage):
        return
    marker = os.environ.get(MARKER_ENV)
    if not marker:
        raise RuntimeError(f"{PAUSE_AT_ENV} is set but {MARKER_ENV} names no marker file")
    Path(marker).write_text(f"{os.getpid()}\n", encoding="utf-8")
    time.sleep(PAUSE_SECONDS)
    raise RuntimeError(f"test pause at {stage} was never ended by a kill")
