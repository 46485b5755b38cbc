"""SSH host keys and logins: what asyncssh raises, said in one line with the fix.

asyncssh (under sshfs) verifies the server's host key against the known_hosts
file it is given and raises ``HostKeyNotVerifiable`` ("Host key is not trusted
for host …") both when the host is not in the file and when its key changed. The
two mean very different things to an operator (a first connection vs. a server
reinstalled or someone in between), so the file is read again to tell them
apart. A rejected user key arrives as ``PermissionError`` caused by asyncssh's
``PermissionDenied`` (sshfs translates it).
"""

from __future__ import annotations

from pathlib import Path

HOST_KEY_UNKNOWN = "host_key_unknown"
HOST_KEY_CHANGED = "host_key_changed"
AUTH_REFUSED = "auth_refused"


class SourceUnavailable(Exception):
    """A source that cannot be pulled at all; ``rule`` names why, the message is
    one line that says what to do."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def _keyscan(host: str, port: int, known_hosts: Path) -> str:
    port_option = f"-p {port} " if port != 22 else ""
    return f"ssh-keyscan {port_option}{host} >> {known_hosts}"


def _host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _has_entry(known_hosts: Path, host: str, port: int) -> bool:
    """Does known_hosts hold any key for the host (so a mismatch means 'changed')?"""
    import asyncssh

    try:
        trusted, ca_keys, *_ = asyncssh.read_known_hosts(str(known_hosts)).match(
            host, host, port if port != 22 else None
        )
    except (OSError, ValueError):
        return False
    return bool(trusted or ca_keys)


def unknown_host(host: str, port: int, known_hosts: Path, why: str) -> SourceUnavailable:
    return SourceUnavailable(
        HOST_KEY_UNKNOWN,
        f"sftp {host}:{port}: {why}; refused. Check the key's fingerprint with the site, then add it: "
        f"{_keyscan(host, port, known_hosts)}",
    )


def host_key_error(host: str, port: int, known_hosts: Path) -> SourceUnavailable:
    """The one-line error for ``HostKeyNotVerifiable``."""
    if _has_entry(known_hosts, host, port):
        return SourceUnavailable(
            HOST_KEY_CHANGED,
            f"sftp {host}:{port}: HOST KEY CHANGED: the server's key differs from the one in {known_hosts} "
            "(a reinstalled server, or someone in between); refused. Confirm the new key with the site, then "
            f"replace it: ssh-keygen -R '{_host_entry(host, port)}' -f {known_hosts} && "
            f"{_keyscan(host, port, known_hosts)}",
        )
    return unknown_host(host, port, known_hosts, f"host key not in known_hosts file {known_hosts}")


def auth_error(user: str, host: str, port: int, identity: Path, reason: str) -> SourceUnavailable:
    return SourceUnavailable(
        AUTH_REFUSED,
        f"sftp {user}@{host}:{port}: the server refused the key {identity} ({reason}); "
        "is its public key (.pub) in the site's authorized_keys for that user?",
    )
