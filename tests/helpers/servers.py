"""Real servers for the pull tests, on free loopback ports, with throwaway keys.

- ``SshServer``: OpenSSH's ``sshd`` (Debian's openssh-server; ``.ci/run``
  installs it when missing) run in the foreground as the current user, with its
  own host key, an authorized user key, SFTP by ``internal-sftp``. Run as root
  (CI), sshd needs its privilege-separation folder ``/run/sshd``, which Debian's
  service creates at boot; the fixture creates it when missing.
- ``S3Server``: moto's ``ThreadedMotoServer``, an S3-compatible HTTP API server
  (the real protocol over a socket, not a mocked client); it accepts any key.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path, passphrase: str = "", kind: str = "ed25519", *extra: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "trialdw-test", "-f", str(path), *extra], check=True
    )
    return path


@dataclass
class SshServer:
    port: int
    user: str
    folder: Path  # test files live here
    user_key: Path
    wrong_key: Path
    known_hosts: Path  # holds this server's host key
    host_key: Path
    process: subprocess.Popen
    host: str = "127.0.0.1"

    def url(self, path: Path | str) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}{path}"


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            if sock.recv(4).startswith(b"SSH-"):
                return
        time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on {port}: {log.read_text(errors='replace')}")


@contextlib.contextmanager
def running_sshd(base: Path):
    """Start sshd; yields an ``SshServer``; stops it afterwards."""
    if not Path(SSHD).exists():
        import pytest

        pytest.skip("sshd is not installed (Debian: openssh-server; .ci/run installs it)")
    base.mkdir(parents=True, exist_ok=True)
    host_key, user_key, wrong_key = keygen(base / "host_key"), keygen(base / "user_key"), keygen(base / "wrong_key")
    authorized = base / "authorized_keys"
    authorized.write_text((base / "user_key.pub").read_text())
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {base / 'sshd.pid'}",
                "StrictModes no",  # the throwaway files live in a world-readable tmp folder
                "UsePAM no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",  # CI runs as root
                "Subsystem sftp internal-sftp",
                "MaxStartups 50",
                "MaxSessions 50",
                "LogLevel ERROR",
            ]
        )
        + "\n"
    )
    log = base / "sshd.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, log)
        scanned = subprocess.run(
            ["ssh-keyscan", "-p", str(port), "127.0.0.1"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        known_hosts = base / "known_hosts"
        known_hosts.write_text(scanned)
        folder = base / "served"
        folder.mkdir()
        yield SshServer(port, getpass.getuser(), folder, user_key, wrong_key, known_hosts, host_key, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class S3Server:
    endpoint_url: str
    key: str = "trialdw-test-key"
    secret: str = "trialdw-test-secret"

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(
            key=self.key, secret=self.secret, endpoint_url=self.endpoint_url, skip_instance_cache=True
        )


@contextlib.contextmanager
def running_s3():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
