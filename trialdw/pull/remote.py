"""A source opened with the fsspec ecosystem's own backend, seen the same way
whatever it is: ``sshfs`` for SFTP (on asyncssh), ``s3fs`` for S3 and
S3-compatible stores, fsspec's local filesystem for ``file://``.

Two things the backends disagree on are settled here:

- **Symbolic links are never followed.** Entries come from folder listings, which
  report a link as a link (SFTP ``readdir`` carries lstat attributes; the local
  backend flags ``islink``); ``info()`` is never used, because sshfs's follows links.
- **SSH is verified.** ``known_hosts`` is always an explicit file (asyncssh treats
  ``None`` as "accept any host key"), the only login is the configured key
  (no agent, no ~/.ssh/config, no password or keyboard-interactive prompt).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from trialdw.ops.runlog import one_line
from trialdw.pull.hostkeys import AUTH_REFUSED, SourceUnavailable, auth_error, host_key_error, unknown_host
from trialdw.pull.secrets import refuse_if_shared
from trialdw.pull.sources import FILE, S3, SFTP, Source
from trialdw.study_config import ConfigError

CONNECT_TIMEOUT_SECONDS = 20
KEEPALIVE_SECONDS = 15  # a dead connection is noticed within a minute, then retried
CONFIG = "config"  # rule of a failed outcome: the source's configuration cannot be used
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Entry:
    """One name in a remote folder, as listed (links not followed)."""

    name: str
    kind: str  # file / directory / link / other
    size: int
    mtime: int | None  # whole seconds since the epoch; None when the backend has none


def _mtime(info: dict) -> int | None:
    value = info.get("mtime", info.get("LastModified"))
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    return None


def _kind(info: dict) -> str:
    if info.get("islink") or info.get("type") == "link":
        return "link"
    kind = info.get("type")
    return kind if kind in ("file", "directory") else "other"


class Remote:
    """An open source: list folders, read files, close."""

    def __init__(self, source: Source, fs):
        self.source = source
        self.fs = fs

    def join(self, *parts: str) -> str:
        return posixpath.join(self.source.root, *parts)

    def entries(self, path: str) -> dict[str, Entry]:
        listed = self.fs.ls(path, detail=True)
        found = {}
        for info in listed:
            name = posixpath.basename(str(info["name"]).rstrip("/"))
            if name in ("", ".", "..") or str(info["name"]).rstrip("/") == path.rstrip("/"):
                continue  # the folder itself (S3 folder markers)
            found[name] = Entry(name, _kind(info), int(info.get("size") or 0), _mtime(info))
        return found

    def open(self, path: str) -> BinaryIO:
        if self.source.scheme == S3:
            return self.fs.open(path, "rb", cache_type="none")  # stream; no read-ahead cache
        return self.fs.open(path, "rb")

    def read_bytes(self, path: str, limit: int) -> bytes:
        with self.open(path) as handle:
            return handle.read(limit + 1)

    def close(self) -> None:
        if self.source.scheme == SFTP:
            _close_ssh(self.fs)


def _close_ssh(fs) -> None:
    """Close the SSH connection now (sshfs would only on garbage collection)."""
    from fsspec.asyn import sync

    async def close(connection):
        connection.close()
        await connection.wait_closed()

    # Closing a broken connection may fail too; that must not hide the pull's outcome.
    with contextlib.suppress(Exception):
        sync(fs.loop, close, fs.client, timeout=5)


def open_remote(source: Source) -> Remote:
    """The source, connected and its root folder listed once (so a wrong path, key
    or host is found here, not halfway through). Raises ``SourceUnavailable`` (one
    line, with a rule), ``ConfigError``, or a transient error for the caller's retry."""
    opener = {SFTP: _open_sftp, S3: _open_s3, FILE: _open_file}[source.scheme]
    remote = Remote(source, opener(source))
    try:
        remote.entries(source.root)
    except FileNotFoundError:
        remote.close()
        raise SourceUnavailable(NOT_FOUND, f"{source.display}: the folder does not exist on the source") from None
    except NotADirectoryError:
        remote.close()
        raise SourceUnavailable(NOT_FOUND, f"{source.display}: not a folder") from None
    except PermissionError as exc:
        remote.close()
        # S3 says AccessDenied / InvalidAccessKeyId here: the credentials; over SFTP the login
        # already worked, so it is the folder's permissions.
        rule = AUTH_REFUSED if source.scheme == S3 else "permission"
        raise SourceUnavailable(rule, f"{source.display}: may not be listed ({one_line(exc)})") from None
    return remote


def _open_file(source: Source):
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem()


def _open_s3(source: Source):
    import s3fs

    options: dict = {"skip_instance_cache": True, "use_listings_cache": False}
    if source.access_key_id is not None:
        options["key"] = source.access_key_id.value()
        options["secret"] = source.secret_access_key.value()
    if source.endpoint_url:
        options["endpoint_url"] = source.endpoint_url
    if source.region:
        options["client_kwargs"] = {"region_name": source.region}
    # The pull's own backoff (1, 4, 10 s, per connection and transfer) is the retry
    # policy; s3fs (5 tries) and botocore (3 more) each retrying underneath it would
    # make an unreachable endpoint take minutes to report.
    options["config_kwargs"] = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "read_timeout": 60,
        "retries": {"total_max_attempts": 2, "mode": "standard"},
    }
    fs = s3fs.S3FileSystem(**options)  # connects on first use: open_remote's listing
    fs.retries = 2  # s3fs's own retry count is an attribute, not an argument
    return fs


def _open_sftp(source: Source):
    import asyncssh
    import sshfs

    identity, known_hosts = Path(source.identity), Path(source.known_hosts)
    refuse_if_shared(identity, source.where, "identity (private key)")
    if not known_hosts.is_file():
        raise unknown_host(
            source.host, source.port, known_hosts, f"known_hosts file {known_hosts} does not exist, so no host is known"
        )
    user = source.user or getpass.getuser()
    try:
        return sshfs.SSHFileSystem(
            source.host,
            port=source.port,
            username=user,
            known_hosts=str(known_hosts),  # never None: None would accept any host key
            client_keys=[str(identity)],
            passphrase=source.passphrase.value() if source.passphrase else None,
            agent_path=None,  # only the configured key, not whatever an agent holds
            config=[],  # not ~/.ssh/config: the sources file says everything
            preferred_auth=["publickey"],
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            keepalive_interval=KEEPALIVE_SECONDS,
            skip_instance_cache=True,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise host_key_error(source.host, source.port, known_hosts) from None
    except PermissionError as exc:
        if isinstance(exc.__cause__, asyncssh.PermissionDenied):
            raise auth_error(user, source.host, source.port, identity, str(exc)) from None
        raise
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        raise ConfigError(f"{source.where}: identity {identity} cannot be used: {_key_advice(exc, identity)}") from None


def _key_advice(exc: Exception, identity: Path) -> str:
    text = str(exc)
    if "bcrypt" in text:
        # asyncssh decrypts OpenSSH-format keys (ssh-keygen's default) only with the
        # bcrypt package, which is not installed; PKCS#8 encryption needs no extra package.
        return (
            "it is an encrypted OpenSSH-format key, which needs the bcrypt package (not installed); "
            f"use an unencrypted key of mode 0600, or re-encrypt it as PKCS#8: ssh-keygen -p -m PKCS8 -f {identity} "
            "(RSA and ECDSA keys)"
        )
    if "assphrase" in text:
        return f"{text}; an encrypted key needs passphrase_env or passphrase_file in the sources file"
    return text
