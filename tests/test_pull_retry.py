"""Which network faults a pull retries, and that it reconnects to retry."""

from __future__ import annotations

import socket

import asyncssh
import botocore.exceptions as boto
import pytest

from tests.helpers.transfers import base_files, write_transfer
from trialdw.ops import retry
from trialdw.ops.retry import is_transient, with_backoff
from trialdw.pull import pull_sources, source_from_url
from trialdw.pull.copy_transfer import ChecksumMismatch
from trialdw.pull.hostkeys import SourceUnavailable
from trialdw.pull.progress import Progress


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (TimeoutError("timed out"), True),
        (asyncssh.ConnectionLost("Connection lost"), True),
        (asyncssh.DisconnectError(12, "Too many connections"), True),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), True),
        (boto.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (boto.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), False),
        (asyncssh.HostKeyNotVerifiable("Host key is not trusted for host x"), False),
        (asyncssh.PermissionDenied("Permission denied"), False),
        (PermissionError("Permission denied for user x on host y"), False),  # what sshfs makes of a rejected key
        (boto.SSLError(endpoint_url="https://x", error="certificate verify failed"), False),
        (ChecksumMismatch("DM.csv", "a" * 64, "b" * 64), False),
        (SourceUnavailable("host_key_changed", "…"), False),
    ],
)
def test_only_network_faults_that_can_go_away_are_retried(exc, transient):
    assert is_transient(exc) is transient


def test_backoff_waits_1_4_10_seconds_then_gives_up(monkeypatch):
    waits, calls = [], []
    monkeypatch.setattr(retry.time, "sleep", waits.append)

    def always_reset():
        calls.append(1)
        raise ConnectionResetError(104, "reset")

    with pytest.raises(ConnectionResetError):
        with_backoff(always_reset)
    assert (waits, len(calls)) == ([1, 4, 10], 4)

    waits.clear()
    with pytest.raises(PermissionError):
        with_backoff(lambda: (_ for _ in ()).throw(PermissionError("denied")))
    assert waits == []


def test_a_transfer_interrupted_by_a_lost_connection_is_retried_on_a_new_connection(tmp_path, monkeypatch):
    """The copy of a transfer loses its connection once: the pull drops the
    connection, waits, connects again and lands the transfer complete."""
    from trialdw.pull import copy_transfer, pull, remote

    source, landing = tmp_path / "source", tmp_path / "landing"
    write_transfer(source, "20250301T020000Z", base_files())
    monkeypatch.setattr(retry.time, "sleep", lambda s: None)
    opened, real_open, real_stream = [], remote.open_remote, copy_transfer.stream_file

    def counting_open(src):
        opened.append(src)
        return real_open(src)

    def flaky_stream(*args, **kw):
        if len(opened) == 1:
            raise asyncssh.ConnectionLost("Connection lost")
        return real_stream(*args, **kw)

    monkeypatch.setattr(pull, "open_remote", counting_open)
    monkeypatch.setattr(copy_transfer, "stream_file", flaky_stream)
    lines = []
    report = pull_sources([source_from_url(f"file://{source}")], landing, Progress(emit=lines.append))
    assert [o.outcome for o in report.outcomes] == ["landed"] and len(opened) == 2
    assert any("Connection lost; retrying in 1 s" in line for line in lines)
    assert not list(landing.rglob(".*partial*"))
