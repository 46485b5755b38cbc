"""Which task failures are worth retrying.

A retry helps when the cause can go away by itself: an I/O hiccup on a network
file system, a DuckDB file lock another process still holds for a moment.
It cannot help, and only delays the night's failure message, when the cause is
in the data or the code: a rejected transfer (that is an outcome, not an
exception), a failed dbt test, a bug. Missing files and permissions do not fix
themselves within seconds either.
"""

from __future__ import annotations

NOT_TRANSIENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def is_transient(exc: BaseException | None) -> bool:
    import duckdb

    if exc is None:
        return False
    if isinstance(exc, duckdb.IOException):  # includes "Could not set lock on file"
        return True
    return isinstance(exc, (OSError, TimeoutError)) and not isinstance(exc, NOT_TRANSIENT_OS_ERRORS)


def retry_if_transient(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry only failures that can go away by themselves."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            outcome = state.result(raise_on_failure=False)
        except Exception:  # an unreadable result is no evidence of a transient fault
            return False
        exc = outcome if isinstance(outcome, BaseException) else None
    return is_transient(exc)


# Prefect task options: 2 retries after 2 s and 10 s, for transient faults only.
TRANSIENT_RETRIES = {"retries": 2, "retry_delay_seconds": [2, 10], "retry_condition_fn": retry_if_transient}
