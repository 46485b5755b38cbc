"""Telling someone when a night failed or held a study back: ``--notify-command``.

The command is run without a shell (split like a command line, so no quoting
surprises and nothing of the message is ever interpreted) with:

- environment: ``TRIALDW_STATUS`` (``failed`` or ``held back``),
  ``TRIALDW_MESSAGE`` (one line: the reason), ``TRIALDW_RUN_ID``,
  ``TRIALDW_WAREHOUSE`` (the published file), ``TRIALDW_HELD_BACK`` (the held
  back STUDYIDs, comma-separated);
- standard input: the same as one JSON object, with ``held_back``
  ({STUDYID: reason}).

A notification that fails (command missing, non-zero exit, over 60 s) is a
warning in the log; it never changes the night's outcome. A second run refused
because one is already writing is not a failed night and notifies nobody.
(A Prefect automation on the flow's Failed state is the other way to be told:
docs/operations.md.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import subprocess

TIMEOUT_SECONDS = 60
FAILED = "failed"
HELD_BACK = "held back"

log = logging.getLogger("trialdw.notify")


def send(command: str | None, status: str, message: str, run_id: str, warehouse, held_back: dict | None = None) -> bool:
    """Run the notify command; True when it ran and exited 0."""
    if not command:
        return False
    held_back = held_back or {}
    payload = {
        "status": status,
        "message": message,
        "run_id": run_id,
        "warehouse": str(warehouse),
        "held_back": held_back,
    }
    env = {
        **os.environ,
        "TRIALDW_STATUS": status,
        "TRIALDW_MESSAGE": message,
        "TRIALDW_RUN_ID": run_id,
        "TRIALDW_WAREHOUSE": str(warehouse),
        "TRIALDW_HELD_BACK": ",".join(sorted(held_back)),
    }
    try:
        done = subprocess.run(
            shlex.split(command),
            input=json.dumps(payload),
            text=True,
            env=env,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        log.warning("notify command could not run: %s", exc)
        return False
    if done.returncode != 0:
        log.warning("notify command exited %d: %s", done.returncode, (done.stderr or "").strip()[-500:])
        return False
    return True


@contextlib.contextmanager
def on_failure(command: str | None, run_id: str, paths):
    """Notify when the body raises (the night could not run); re-raise."""
    from trialdw.ops.runlog import one_line
    from trialdw.warehouse import WarehouseBusy

    try:
        yield
    except WarehouseBusy:
        raise
    except BaseException as exc:
        send(command, FAILED, one_line(exc), run_id, paths.published)
        raise


def on_held_back(command: str | None, run_id: str, paths, held_back: dict) -> None:
    if held_back:
        message = "; ".join(f"{study}: {reason}" for study, reason in sorted(held_back.items()))
        send(command, HELD_BACK, message, run_id, paths.published, held_back)
