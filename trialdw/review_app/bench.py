"""Benchmark: is the review app responsive with many findings?

    python -m trialdw.review_app.bench [--findings 50000] [--annotated 0.1] [--out DIR]
    make bench-review

Builds a warehouse with N synthetic findings (spread over 2 studies, 40 sites, 6
domains, 12 rules; a tenth of them with query states in the annotation store),
starts the real server (``trialdw review serve``, a separate process), then:

- API: median of 5 answers for the first page, a filtered page, the last page, a
  finding's detail, the summary by rule, and the page HTML;
- browser: headless Chromium logs in, then opens the app 6 times, every other time
  right after a data manager's change (so the counts and the summary by rule are
  recomputed, not served from the per-change memo); *time to first render* is the
  page's own ``performance.now()`` when the first page of findings is in the table
  (navigation start = 0), so it includes the HTML, CSS, script and the first API
  call. Medians are printed.

Chromium is driven with the project's DevTools helper (tests/browser.py), so this
runs from a checkout. Figures only: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "benchmark password 1"


def build_warehouse(path: Path, findings: int, annotated: float = 0.1) -> Path:
    """A published-looking warehouse with ``findings`` findings and their occurrences."""
    import duckdb

    from trialdw import warehouse as wh
    from trialdw.review_app.annotations import AnnotationStore
    from trialdw.review_app.states import Change

    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(wh.AUDIT_DDL.read_text(encoding="utf-8"))
        con.execute(
            """INSERT INTO audit.transfers
               SELECT s.study, lpad(CAST(101 + k AS VARCHAR), 3, '0'), t.id,
                      CASE WHEN t.id = '20261119T020000Z' THEN 'accepted' ELSE 'superseded' END, NULL,
                      TIMESTAMP '2026-11-19 02:10:00', NULL,
                      CASE WHEN t.id = '20261119T020000Z' THEN 'Y' END, NULL, NULL, 'bench'
               FROM (VALUES ('HCC-REGO-PD1'), ('HCC-SURU-SC')) s(study), range(20) r(k),
                    (VALUES ('20260720T020000Z'), ('20261119T020000Z')) t(id)"""
        )
        con.execute(
            """INSERT INTO audit.reconciliation
               SELECT STUDYID, SITEID, TRANSFER_ID, d.domain, 1000, 990, 10
               FROM audit.transfers, (VALUES ('AE'), ('LB'), ('DM')) d(domain)"""
        )
        con.execute(
            """INSERT INTO audit.findings (FINDING_ID, STUDYID, SITEID, DOMAIN, USUBJID, RECORD_KEY, SOURCE_FILE,
                   SOURCE_LINE, COLUMN_NAME, VALUE, RULE, SEVERITY, MESSAGE, CATEGORY, STATUS,
                   FIRST_SEEN_TRANSFER, LAST_SEEN_TRANSFER, RESOLVED_TRANSFER)
               WITH f AS (
                   SELECT i, ['HCC-REGO-PD1', 'HCC-SURU-SC'][1 + i % 2] AS study,
                          lpad(CAST(101 + (i // 2) % 20 AS VARCHAR), 3, '0') AS site,
                          ['AE', 'LB', 'DM', 'EX', 'TR', 'RS'][1 + i % 6] AS domain,
                          ['codelist', 'range', 'whitespace', 'required', 'date_format', 'not_before', 'orphan',
                           'duplicate_key', 'mojibake', 'extra_columns', 'ovr_vs_recist', 'dates_after_death']
                              [1 + (i // 7) % 12] AS rule,
                          i % 5 = 0 AS resolved
                   FROM range(?) t(i))
               SELECT substr(sha256(CAST(i AS VARCHAR)), 1, 16), study, site, domain,
                      study || '-' || site || '-' || lpad(CAST(i % 400 AS VARCHAR), 3, '0'),
                      study || '-' || site || '-' || lpad(CAST(i % 400 AS VARCHAR), 3, '0') || '|' || i,
                      study || '/' || site || '/20261119T020000Z/' || domain || '.csv', 2 + i % 5000,
                      domain || 'TERM', 'value ' || i, rule,
                      CASE WHEN i % 3 = 0 THEN 'warning' ELSE 'reject' END,
                      domain || 'TERM ''value ' || i || ''' breaks rule ' || rule,
                      'row', CASE WHEN resolved THEN 'resolved' ELSE 'open' END,
                      '20260720T020000Z', CASE WHEN resolved THEN '20260720T020000Z' ELSE '20261119T020000Z' END,
                      CASE WHEN resolved THEN '20261119T020000Z' END
               FROM f""",
            [findings],
        )
        con.execute(
            """INSERT INTO audit.finding_occurrences
               SELECT FINDING_ID, t.id, SOURCE_FILE, SOURCE_LINE, VALUE FROM audit.findings,
                      (VALUES ('20260720T020000Z'), ('20261119T020000Z')) t(id)
               WHERE t.id <= LAST_SEEN_TRANSFER"""
        )
        ids = [
            r[0]
            for r in con.execute(
                "SELECT FINDING_ID FROM audit.findings WHERE STATUS = 'open' ORDER BY FINDING_ID LIMIT ?",
                [int(findings * annotated)],
            ).fetchall()
        ]
        con.execute("CHECKPOINT")
    store = AnnotationStore(wh.WarehousePaths(path).annotations).create()
    moves = [Change("acknowledged"), Change("query_raised", "sent", "EDC-1"), Change("answered", "site replied")]
    with store.write() as sql:
        for n, fid in enumerate(ids):
            state = "new"
            for change in moves[: 1 + n % 3]:
                store.insert(sql, fid, "bench", state, change)
                state = change.to_state
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})} if data else dict(headers or {})
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.getheader("Set-Cookie"), response.read()
    finally:
        conn.close()


def _median_ms(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(findings: int = 50_000, annotated: float = 0.1, out: Path | None = None, browser: bool = True) -> dict:
    """Build, serve, measure; returns the figures (milliseconds) and prints them."""
    from trialdw.project import PROJECT_ROOT
    from trialdw.review_app.accounts import UsersFile

    root = Path(out or tempfile.mkdtemp(prefix="trialdw-review-bench-"))
    db = root / "wh" / "trialdw.duckdb"
    t0 = time.perf_counter()
    build_warehouse(db, findings, annotated)
    figures: dict = {"findings": findings, "build_seconds": round(time.perf_counter() - t0, 2)}
    UsersFile(db.with_name("trialdw-users.json")).add("bench", "data-manager", PASSWORD)

    port = _free_port()
    log = open(root / "server.log", "ab")  # noqa: SIM115 (closed below)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialdw.cli", "review", "serve", "--warehouse", str(db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        while True:
            try:
                if _request(port, "GET", "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 120:
                raise RuntimeError(f"server did not start; see {root / 'server.log'}")
            time.sleep(0.1)
        figures["server_start_seconds"] = round(time.perf_counter() - started, 2)
        status, cookie, body = _request(port, "POST", "/api/login", {"user": "bench", "password": PASSWORD})
        assert status == 200, body
        session = {"Cookie": cookie.split(";", 1)[0]}
        csrf = json.loads(body)["csrf_token"]

        def get(path: str) -> bytes:
            status, _, body = _request(port, "GET", path, headers=session)
            assert status == 200, (path, body[:200])
            return body

        first = json.loads(get("/api/findings?state=new,acknowledged,query_raised,answered&page_size=100"))
        figures["total_not_closed"] = first["total"]
        figures["rows_first_page"] = len(first["findings"])
        last_page = json.loads(get("/api/findings?page_size=100"))["pages"]
        fid = first["findings"][0]["FINDING_ID"]
        figures["api_ms"] = {
            "first page (100 of not closed)": _median_ms(
                lambda: get("/api/findings?state=new,acknowledged,query_raised,answered&page_size=100")
            ),
            "filtered (site, rule, state)": _median_ms(
                lambda: get("/api/findings?study=HCC-REGO-PD1&site=101&rule=range&state=new")
            ),
            f"last page ({last_page})": _median_ms(lambda: get(f"/api/findings?page={last_page}&page_size=100")),
            "one finding with history": _median_ms(lambda: get(f"/api/findings/{fid}")),
            "summary by rule": _median_ms(lambda: get("/api/summary")),
            "page HTML (GET /)": _median_ms(lambda: get("/")),
        }
        notes = iter(range(1_000_000))

        def change_something() -> None:
            """A data manager's entry: the next page view recomputes the counts and the summary by rule."""
            status, _, body = _request(
                port,
                "POST",
                f"/api/findings/{fid}/annotations",
                {"state": "acknowledged", "comment": f"bench note {next(notes)}"},
                {**session, "X-CSRF-Token": csrf},
            )
            assert status == 201, body

        figures["api_ms"]["record a change (POST annotation)"] = _median_ms(change_something)
        if browser:
            figures["browser_ms"] = _browser_first_render(port, root, PROJECT_ROOT, change_something)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    _print(figures)
    return figures


def _browser_first_render(port: int, root: Path, project_root: Path, change_something) -> dict:
    if str(project_root) not in sys.path:
        sys.path.insert(0, str(project_root))
    from tests.browser import HeadlessChromium  # the project's DevTools helper (a checkout is needed)

    base = f"http://127.0.0.1:{port}"
    renders: dict[str, list] = {"after a change": [], "unchanged": []}
    walls = []
    with HeadlessChromium(base + "/login", root / "browser", window=(1400, 1000), timeout=120) as browser:
        browser.fill("#login-user", "bench")
        browser.fill("#login-password", PASSWORD)
        browser.click("#login-submit")
        browser.wait_for("location.pathname === '/' && window.__trialdwFirstRender !== undefined")
        for n in range(6):
            kind = "after a change" if n % 2 == 0 else "unchanged"
            if kind == "after a change":
                change_something()  # counts and summary are recomputed for this view
            browser.evaluate("window.__previous = true")  # so the wait below sees the new document only
            t0 = time.perf_counter()
            browser.send("Page.navigate", url=f"{base}/?visit={n}")
            value = browser.wait_for("window.__previous === undefined && window.__trialdwFirstRender")
            walls.append((time.perf_counter() - t0) * 1000)
            renders[kind].append(value)
        rows = browser.evaluate("document.querySelectorAll('#findings-body tr').length")
        total = browser.evaluate("document.getElementById('total-count').textContent")
    every = [*renders["after a change"], *renders["unchanged"]]
    return {
        "time to first render (page's performance.now)": float(statistics.median(every)),
        "  … right after a data manager's change": float(statistics.median(renders["after a change"])),
        "  … nothing changed since the last view": float(statistics.median(renders["unchanged"])),
        "navigation to rows, seen from the test (includes DevTools polling)": float(statistics.median(walls)),
        "rows rendered": rows,
        "findings matching (not closed)": int(total),
    }


def _print(figures: dict) -> None:
    print(
        f"review app with {figures['findings']:,} findings "
        f"(built in {figures['build_seconds']} s, server up in {figures['server_start_seconds']} s)"
    )
    for name, ms in figures["api_ms"].items():
        print(f"  API {name:<34} {ms:8.1f} ms (median of 5)")
    for name, value in figures.get("browser_ms", {}).items():
        unit = " ms (median)" if isinstance(value, float) else ""
        print(f"  browser {name:<30} {value:>8.1f}{unit}" if unit else f"  browser {name:<30} {value:>8}")


def main(argv: list[str] | None = None) -> int:
    from trialdw.environment import apply_quiet_offline_env

    apply_quiet_offline_env()
    parser = argparse.ArgumentParser(prog="python -m trialdw.review_app.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--findings", type=int, default=50_000)
    parser.add_argument("--annotated", type=float, default=0.1, help="share of open findings with query states")
    parser.add_argument("--out", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--no-browser", action="store_true", help="API figures only")
    args = parser.parse_args(argv)
    run(args.findings, args.annotated, args.out, browser=not args.no_browser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
