"""The review app as a user runs it, for tests: `trialdw users add` and `trialdw review serve`
as real processes on a free loopback port, and a small HTTP client that keeps the session
cookie and the CSRF token the way a browser page does.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

TRIALDW = [sys.executable, "-m", "trialdw.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def add_user(warehouse: Path, name: str, role: str, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TRIALDW, "users", "add", name, "--role", role, "--warehouse", str(warehouse), "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


class ReviewServer:
    """``trialdw review serve`` in its own process group; ``stop()`` ends exactly that group."""

    def __init__(self, warehouse: Path, log: Path, *extra: str):
        self.warehouse, self.log_path, self.extra = Path(warehouse), Path(log), extra
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> ReviewServer:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [*TRIALDW, "review", "serve", "--warehouse", str(self.warehouse), "--port", str(self.port), *self.extra],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"review server exited {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if Client(self).get("/api/health")[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"review server not up after {timeout}s: {self.log()[-2000:]}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Client:
    """A browser-like API client: the session cookie from the login is sent back, the CSRF token
    goes into X-CSRF-Token on changes (unless a test leaves it out or forges it)."""

    def __init__(self, server: ReviewServer):
        self.server = server
        self.cookie: str | None = None
        self.csrf: str | None = None

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            all_headers = dict(headers or {})
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
                all_headers.setdefault("Content-Type", "application/json")
            if self.cookie:
                all_headers["Cookie"] = self.cookie
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("trialdw_session="):
                    token = value.split(";", 1)[0]
                    self.cookie = None if token == 'trialdw_session=""' or token.endswith("=") else token
            content_type = response.getheader("Content-Type", "")
            payload = json.loads(raw) if content_type.startswith("application/json") and raw else raw
            return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
        finally:
            conn.close()

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, body=None, *, csrf: bool | str = True, headers: dict | None = None):
        headers = dict(headers or {})
        if csrf is True and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        elif isinstance(csrf, str):
            headers["X-CSRF-Token"] = csrf
        return self.request("POST", path, body if body is not None else {}, headers)

    def login(self, user: str, password: str):
        status, headers, payload = self.post("/api/login", {"user": user, "password": password}, csrf=False)
        if status == 200:
            self.csrf = payload["csrf_token"]
        return status, headers, payload

    def annotate(self, finding_id: str, state: str, **fields):
        return self.post(f"/api/findings/{finding_id}/annotations", {"state": state, **fields})

    def findings(self, **filters) -> dict:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        status, _, payload = self.get(f"/api/findings?{query}")
        assert status == 200, payload
        return payload
