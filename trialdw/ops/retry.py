"""Which task failures are worth retrying.

A retry helps when the cause can go away by itself: an I/O hiccup on a network
file system, a DuckDB file lock another process still holds for a moment.
It cannot help, and only delays the night's failure message, when the cause is
in the data or the code: a rejected transfer (that is an outcome, not an
exception), a failed dbt test, a bug. Missing files and permissions do not fix
themselves within seconds either.

The pull from the sites' drop zones (``trialdw.pull``) uses the same rule for the
network: a refused, reset or lost connection, a timeout or a DNS server that did
not answer is retried (``with_backoff``); a rejected key or host key (asyncssh
``PermissionDenied`` arrives as ``PermissionError``, ``HostKeyNotVerifiable`` is no
``OSError``), a TLS certificate problem, an unknown host name or a checksum
mismatch is not.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

NOT_TRANSIENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
# asyncssh disconnect codes that say "the connection went away", not "you may not".
_TRANSIENT_DISCONNECT_CODES = frozenset({10, 12})  # DISC_CONNECTION_LOST, DISC_TOO_MANY_CONNECTIONS


def _is_transient_network_error(exc: BaseException) -> bool | None:
    """True/False for errors of the SSH and S3 clients, None for anything else."""
    try:
        import asyncssh
    except ImportError:  # pragma: no cover - asyncssh is a dependency
        asyncssh = None
    if asyncssh is not None and isinstance(exc, asyncssh.DisconnectError):
        return isinstance(exc, asyncssh.ConnectionLost) or exc.code in _TRANSIENT_DISCONNECT_CODES
    try:
        from botocore import exceptions as boto
    except ImportError:  # pragma: no cover - botocore comes with s3fs
        return None
    if isinstance(exc, boto.SSLError):  # a certificate does not fix itself
        return False
    if isinstance(exc, (boto.ConnectionError, boto.HTTPClientError)):
        return True  # endpoint unreachable, connect/read timeout, connection closed
    return None


def is_transient(exc: BaseException | None) -> bool:
    import duckdb

    if exc is None:
        return False
    if isinstance(exc, duckdb.IOException):  # includes "Could not set lock on file"
        return True
    network = _is_transient_network_error(exc)
    if network is not None:
        return network
    if isinstance(exc, socket.gaierror):  # only "try again" is worth a retry; "not known" is a typo
        return exc.errno == socket.EAI_AGAIN
    return isinstance(exc, (OSError, TimeoutError)) and not isinstance(exc, NOT_TRANSIENT_OS_ERRORS)


# Backoff of the pull's network retries: three more tries, 15 s in all.
NETWORK_BACKOFF_SECONDS = (1, 4, 10)


def with_backoff(
    action: Callable[[], object],
    *,
    delays: tuple[float, ...] = NETWORK_BACKOFF_SECONDS,
    on_retry: Callable[[BaseException, float], None] | None = None,
):
    """``action()``, tried again after each of ``delays`` while it fails transiently;
    any other failure, or the last transient one, is raised at once."""
    for delay in (*delays, None):
        try:
            return action()
        except Exception as exc:
            if delay is None or not is_transient(exc):
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


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
