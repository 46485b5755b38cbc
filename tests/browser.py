"""A small headless-Chromium driver for tests: the DevTools protocol over a websocket.

No selenium/playwright download: Debian's ``chromium`` plus the ``websockets``
package Prefect already depends on. Usage::

    with HeadlessChromium(page_url, tmp_path) as page:   # returns once the page has loaded
        assert page.evaluate("document.title") == "…"

``evaluate`` runs JavaScript in the page (``Runtime.evaluate``) and returns its
value as JSON-decoded Python; a JavaScript exception raises ``BrowserError``.
For pages served by a test server: ``fill``/``select``/``click`` act on an element
as a person would (events fire), ``reload`` reloads, ``goto(url, expect=...)``
waits for a redirect target, ``wait_for`` polls a JavaScript condition, and
``cookies()`` shows what the browser stores (HttpOnly ones included).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


class BrowserError(RuntimeError):
    pass


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise BrowserError(f"timed out after {timeout}s waiting for {what}")


class HeadlessChromium:
    def __init__(self, url: str, work_dir: Path, *, window: tuple[int, int] = (1400, 2000), timeout: float = 30):
        self.url, self.timeout = url, timeout
        self.profile = Path(work_dir) / "chromium-profile"
        self.window = window
        self._ids = itertools.count(1)
        self._proc = self._ws = self._scratch = None

    def __enter__(self) -> HeadlessChromium:
        binary = chromium_path()
        if binary is None:
            raise BrowserError("chromium is not installed")
        self.profile.mkdir(parents=True)
        # Chromium's singleton lock folder (org.chromium.Chromium.*) goes under TMPDIR:
        # one of this browser's, removed by close(), not the machine's /tmp, where each
        # run left one behind. Short: the singleton socket's path must fit 107 bytes.
        self._scratch = scratch = Path(tempfile.mkdtemp(prefix="chromium-"))
        self._proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--window-size={self.window[0]},{self.window[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": str(scratch)},
            start_new_session=True,
        )  # its own process group: close() ends the renderers too
        try:
            self._connect()
            self.goto(self.url)
        except BaseException:
            self.close()
            raise
        return self

    def _connect(self) -> None:
        from websockets.sync.client import connect

        port_file = self.profile / "DevToolsActivePort"
        # Chromium writes "<port>\n<browser websocket path>" once it listens.
        port = _wait(
            lambda: port_file.exists() and port_file.read_text().split("\n")[0].strip(),
            self.timeout,
            "DevToolsActivePort",
        )

        def page_target():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                return next((t for t in json.load(resp) if t.get("type") == "page"), None)

        target = _wait(page_target, self.timeout, "the page target")
        self._ws = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=self.timeout)

    def goto(self, url: str, *, expect: str | None = None) -> None:
        """Load ``url`` and wait until its document (not the previous one) is complete;
        ``expect``: the URL it ends on when the server redirects (e.g. to a login form)."""
        self.send("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(expect or url)} && document.readyState === 'complete'")

    def reload(self) -> None:
        """Reload the current page and wait until the new document is complete."""
        self.evaluate("window.__reloading = true")
        self.send("Page.reload", ignoreCache=True)
        self.wait_for("window.__reloading !== true && document.readyState === 'complete'")

    def fill(self, selector: str, value: str) -> None:
        """Type ``value`` into an input/textarea (sets it and fires input + change)."""
        self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus();"
            f" e.value = {json.dumps(value)}; e.dispatchEvent(new Event('input', {{bubbles: true}}));"
            " e.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )

    def select(self, selector: str, value: str) -> None:
        """Choose an option of a <select> (fires change)."""
        self.fill(selector, value)

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def text(self, selector: str) -> str | None:
        return self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); return e ? e.innerText : null; }})()"
        )

    def exists(self, selector: str) -> bool:
        return self.evaluate(f"document.querySelector({json.dumps(selector)}) !== null")

    def cookies(self) -> list[dict]:
        return self.send("Network.getCookies")["cookies"]

    def send(self, method: str, **params) -> dict:
        """One DevTools command; events that arrive meanwhile are skipped."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=self.timeout))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, expression: str) -> object:
        """Poll until ``expression`` is truthy; errors while a page is being replaced count as not yet."""

        last_error: list[str] = []

        def attempt():
            try:
                return self.evaluate(expression)
            except BrowserError as exc:
                last_error[:] = [str(exc)]
                return None

        try:
            return _wait(attempt, self.timeout, expression)
        except BrowserError as exc:
            raise BrowserError(f"{exc}; last error: {last_error[0]}" if last_error else str(exc)) from None

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)  # the group of the browser this object started
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.close()
