"""A real ``prefect server start`` on a free loopback port, for as long as a
``with`` block runs (the benchmark, the served-deployment test).

Its own PREFECT_HOME (SQLite), no UI, no analytics; waits for ``/health``;
on exit the server's whole process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PREFECT = str(Path(sys.executable).with_name("prefect"))
START_SECONDS = 180  # a cold start on two busy cores


class ServerDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


@contextlib.contextmanager
def running_prefect_server(home: Path):
    """Yield (api_url, environment for its clients)."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PREFECT_HOME=str(home / "prefect-home"),
        PREFECT_UI_ENABLED="false",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    log = home / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not healthy(api_url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ServerDidNotStart(f"prefect server did not start: {log.read_text()[-2000:]}")
            time.sleep(1)
        yield api_url, {**env, "PREFECT_API_URL": api_url}
    finally:
        stop(server)
