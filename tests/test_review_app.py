"""The served review app, end to end: a real warehouse built by the real ingest, accounts made
with the real CLI, `trialdw review serve` as a real process on a free loopback port, driven
over HTTP and in headless Chromium.

The warehouse is the two nights of test_review_page (one study, two sites): open findings
B (an AETERM carrying markup, rule whitespace), C (a negative lab value, range), T3's
checksum and 102's extra column; A (codelist) resolved.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from tests.browser import HeadlessChromium, chromium_path
from tests.helpers.review_server import TRIALDW, Client, ReviewServer, add_user
from tests.helpers.transfers import STUDY, study_config, write_transfer
from tests.test_review_page import MARKUP, T1, T2, T3, break_checksum, site_101_files, site_102_files
from trialdw.ingest import ingest_landing, load_contracts
from trialdw.warehouse import WarehousePaths

pytestmark = pytest.mark.slow  # real server processes (and a browser); about a minute in all

DM, DM_PASSWORD = "dana", "dana's long passphrase"
VIEWER, VIEWER_PASSWORD = "victor", "victor reads only, 2025"
COMMENT_MARKUP = "<script>window.__xss=3</script><img src=x onerror=window.__xss=4> site asked"


def build_warehouse(root: Path) -> Path:
    landing, db = root / "landing", root / "wh" / "trialdw.duckdb"
    db.parent.mkdir(parents=True)
    studies, contracts = {STUDY: study_config()}, load_contracts()
    write_transfer(landing, T1, site_101_files(1), site="101")
    write_transfer(landing, T1, site_102_files(), site="102")
    with duckdb.connect(str(db)) as con:
        ingest_landing(con, landing, studies, root / "work1", "20250301T030000Z-aaaaaa", contracts)
    write_transfer(landing, T2, site_101_files(2), site="101")
    write_transfer(landing, T3, site_101_files(2), site="101", manifest_edit=break_checksum)
    with duckdb.connect(str(db)) as con:
        ingest_landing(con, landing, studies, root / "work2", "20250501T030000Z-bbbbbb", contracts)
    return db


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    db = build_warehouse(tmp_path_factory.mktemp("app"))
    for name, role, password in ((DM, "data-manager", DM_PASSWORD), (VIEWER, "viewer", VIEWER_PASSWORD)):
        done = add_user(db, name, role, password)
        assert done.returncode == 0, done.stderr
    return db


@pytest.fixture(scope="module")
def server(warehouse, tmp_path_factory):
    with ReviewServer(warehouse, tmp_path_factory.mktemp("log") / "server.log") as running:
        yield running


def logged_in(server, user=DM, password=DM_PASSWORD) -> Client:
    client = Client(server)
    status, _, payload = client.login(user, password)
    assert status == 200, payload
    return client


def finding_id(client: Client, rule: str) -> str:
    (finding,) = client.findings(rule=rule, state="")["findings"]
    return finding["FINDING_ID"]


def history(warehouse: Path, fid: str) -> list[tuple]:
    from trialdw.review_app.annotations import AnnotationStore

    return [
        (e.BY, e.FROM_STATE, e.TO_STATE, e.REASON)
        for e in AnnotationStore(WarehousePaths(warehouse).annotations).history(fid)
    ]


# ---------------------------------------------------------------- sessions and refusals


def test_without_a_session_the_api_says_401_and_the_page_sends_to_the_login_form(server):
    anonymous = Client(server)
    for path in ("/api/findings", "/api/summary", "/api/session", "/api/findings/0123456789abcdef"):
        assert anonymous.get(path)[0] == 401, path
    status, _, payload = anonymous.post("/api/findings/0123456789abcdef/annotations", {"state": "acknowledged"})
    assert (status, payload) == (401, {"detail": "not logged in"})
    status, headers, _ = anonymous.get("/")
    assert (status, headers["location"]) == (303, "/login")
    assert anonymous.get("/reports/findings.csv")[0] == 401
    assert anonymous.get("/login")[0] == 200


def test_login_sets_a_strict_httponly_cookie_and_returns_the_csrf_token(server):
    client = Client(server)
    status, headers, payload = client.login(DM, DM_PASSWORD)
    assert status == 200 and payload["user"] == DM and payload["role"] == "data-manager"
    assert len(payload["csrf_token"]) >= 40
    cookie = headers["set-cookie"]
    assert re.match(r"trialdw_session=[A-Za-z0-9_-]{40,};", cookie)
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=strict"} <= attributes
    assert "secure" not in attributes  # plain http on loopback; https through the proxy adds it
    assert client.get("/api/session")[2]["csrf_token"] == payload["csrf_token"]
    # A wrong password, and an unknown user, get the same answer.
    assert Client(server).login(DM, "wrong password!!")[:3:2] == (401, {"detail": "wrong user name or password"})
    assert Client(server).login("nobody", "wrong password!!")[:3:2] == (401, {"detail": "wrong user name or password"})


def test_behind_a_tls_proxy_on_this_host_the_cookie_is_secure_and_the_client_address_is_the_real_one(server):
    """What a reverse proxy on the same machine sends: uvicorn trusts X-Forwarded-* from 127.0.0.1."""
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.8.7"}
    client = Client(server)
    status, headers, _ = client.post("/api/login", {"user": DM, "password": DM_PASSWORD}, csrf=False, headers=proxied)
    assert status == 200
    assert "secure" in {p.strip().lower() for p in headers["set-cookie"].split(";")}
    assert headers["strict-transport-security"].startswith("max-age=")
    assert Client(server).post("/api/login", {"user": "nobody", "password": "x"}, csrf=False, headers=proxied)[0] == 401
    assert "failed login for user 'nobody' from 10.9.8.7" in server.log()


def test_every_answer_carries_the_security_headers(server):
    client = logged_in(server)
    for path in ("/", "/login", "/api/findings", "/static/app.js", "/api/health"):
        _, headers, _ = client.get(path)
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
    assert client.get("/api/findings")[1]["cache-control"] == "no-store"
    _, _, page = client.get("/")
    assert b"<script>" not in page and b'<script src="/static/app.js" defer></script>' in page


def test_a_change_without_or_with_a_wrong_csrf_token_is_refused_and_not_recorded(server, warehouse):
    client = logged_in(server)
    fid = finding_id(client, "extra_columns")
    status, _, payload = client.post(f"/api/findings/{fid}/annotations", {"state": "acknowledged"}, csrf=False)
    assert (status, payload) == (403, {"detail": "missing or wrong X-CSRF-Token header"})
    assert client.post(f"/api/findings/{fid}/annotations", {"state": "acknowledged"}, csrf="forged")[0] == 403
    other = logged_in(server)  # another session's token is no good either
    assert client.post(f"/api/findings/{fid}/annotations", {"state": "acknowledged"}, csrf=other.csrf)[0] == 403
    assert client.post("/api/logout", csrf=False)[0] == 403
    # A cross-site HTML form cannot send JSON: anything else is refused before it is read.
    status, _, _ = client.request(
        "POST",
        f"/api/findings/{fid}/annotations",
        b"state=acknowledged",
        {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": client.csrf},
    )
    assert status == 415
    # A body of unannounced size is not read at all, not even for the login.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST",
        "/api/login",
        body=iter([b'{"user": "dana", ', b'"password": "x"}']),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    assert conn.getresponse().status == 411
    conn.close()
    assert history(warehouse, fid) == []


def test_a_viewer_reads_but_every_change_is_403(server, warehouse):
    viewer = logged_in(server, VIEWER, VIEWER_PASSWORD)
    fid = finding_id(viewer, "range")
    status, _, payload = viewer.get(f"/api/findings/{fid}")
    assert status == 200 and payload["targets"] == []
    status, _, payload = viewer.annotate(fid, "acknowledged", comment="I should not")
    assert (status, payload) == (403, {"detail": "a viewer cannot change anything"})
    assert history(warehouse, fid) == []


def test_logout_ends_the_session(server):
    client = logged_in(server)
    assert client.post("/api/logout")[0] == 200
    assert client.get("/api/findings")[0] == 401


# ---------------------------------------------------------------- findings and the workflow


def test_findings_are_paged_and_filtered_in_the_server_with_their_state(server):
    client = logged_in(server)
    everything = client.findings(state="", page_size=2)
    assert (everything["total"], everything["pages"], len(everything["findings"])) == (5, 3, 2)
    assert {"FINDING_ID", "STATE", "STATUS", "RULE", "SOURCE_LINE", "CHANGE"} <= set(everything["findings"][0])
    third = client.findings(state="", page_size=2, page=3)["findings"]
    assert len(third) == 1
    # The resolved finding is closed (resolved by data) without anyone having touched it.
    (resolved,) = client.findings(status="resolved", state="")["findings"]
    assert (resolved["RULE"], resolved["STATE"], resolved["STATE_REASON"]) == ("codelist", "closed", "resolved_by_data")
    assert {f["RULE"] for f in client.findings(site="101", severity="reject", status="open")["findings"]} == {
        "whitespace",
        "range",
        "checksum",
    }
    assert client.findings(domain="(transfer)")["total"] == 0  # the checksum finding names DM.csv
    assert client.findings(rule="range,extra_columns")["total"] == 2
    assert client.get("/api/findings?colour=red")[0] == 422
    assert client.get("/api/findings?page_size=501")[0] == 422


def test_a_finding_has_its_occurrences_across_transfers_and_its_history(server):
    client = logged_in(server)
    fid = finding_id(client, "whitespace")
    status, _, detail = client.get(f"/api/findings/{fid}")
    assert status == 200
    assert detail["VALUE"] == MARKUP + " "
    assert [(o["TRANSFER_ID"], o["SOURCE_LINE"]) for o in detail["occurrences"]] == [(T1, 4), (T2, 4)]
    assert detail["targets"] == ["acknowledged", "query_raised", "answered", "closed"]
    assert client.get("/api/findings/ffffffffffffffff")[0] == 404
    assert client.get("/api/findings/not-an-id")[0] == 404


def test_the_workflow_refuses_what_a_data_manager_should_not_record(server, warehouse):
    client = logged_in(server)
    fid = finding_id(client, "range")
    cases = [
        ({"state": "closed"}, 422, "closing needs a reason"),
        ({"state": "closed", "reason": "resolved_by_data"}, 409, "the latest transfer still has this finding"),
        ({"state": "closed", "reason": "accepted_as_is"}, 422, "needs a comment"),
        ({"state": "new"}, 422, "only the nightly run moves a finding back to new"),
        ({"state": "acknowledged", "reason": "accepted_as_is"}, 422, "a reason is given only when closing"),
        ({"state": "done"}, 422, "state must be one of"),
        ({"state": "acknowledged", "expected_state": "answered"}, 409, "someone changed it meanwhile"),
    ]
    for body, status, text in cases:
        got, _, payload = client.annotate(fid, **body)
        assert got == status and text in payload["detail"], (body, payload)
    assert client.annotate(fid, "acknowledged", extra="field")[0] == 422
    assert client.annotate("ffffffffffffffff", "acknowledged")[0] == 404
    assert history(warehouse, fid) == []
    # Accepted as is, with the site's confirmation: closed, and the history says who and why.
    status, _, created = client.annotate(
        fid, "closed", reason="accepted_as_is", comment="site confirmed -5 (lab re-run)", expected_state="new"
    )
    assert status == 201
    assert created["finding"]["STATE"] == "closed" and created["finding"]["STATE_REASON"] == "accepted_as_is"
    assert created["entry"]["BY"] == DM and created["entry"]["AT"].endswith("Z")
    # A mistaken close is corrected by a new entry, never by editing the old one.
    assert client.annotate(fid, "acknowledged", comment="closed the wrong finding")[0] == 201
    assert history(warehouse, fid) == [
        (DM, "new", "closed", "accepted_as_is"),
        (DM, "closed", "acknowledged", None),
    ]
    assert client.findings(rule="range")["findings"][0]["STATE"] == "acknowledged"


def test_the_summary_by_rule_counts_open_in_query_and_closed(server):
    client = logged_in(server)
    fid = finding_id(client, "checksum")
    assert client.annotate(fid, "query_raised", query_ref="EDC-77", comment="resend DM.csv")[0] == 201
    status, _, summary = client.get("/api/summary")
    assert status == 200
    rules = {r["RULE"]: r for r in summary["rules"]}
    assert (rules["checksum"]["OPEN"], rules["checksum"]["IN_QUERY"], rules["checksum"]["CLOSED"]) == (0, 1, 0)
    assert (rules["checksum"]["SITES_AFFECTED"], rules["checksum"]["SITES"]) == (1, f"{STUDY}/101")
    assert (rules["codelist"]["CLOSED"], rules["codelist"]["SITES_AFFECTED"]) == (1, 0)
    assert summary["counts"]["state_query_raised"] >= 1 and summary["counts"]["total"] == 5
    assert client.findings(rule="checksum")["findings"][0]["QUERY_REF"] == "EDC-77"


def test_the_nights_files_are_served_to_people_logged_in_and_nothing_else(server, warehouse):
    from trialdw.review_app import write_review_page

    reports = WarehousePaths(warehouse).reports
    write_review_page(warehouse, reports, data_docs=None)
    (reports / "data-docs").mkdir(exist_ok=True)
    (reports / "data-docs" / "index.html").write_text("<title>readiness</title>", encoding="utf-8")
    client = logged_in(server, VIEWER, VIEWER_PASSWORD)
    status, headers, body = client.get("/reports/findings.xlsx")
    assert status == 200 and body[:2] == b"PK" and "attachment" in headers["content-disposition"]
    status, headers, body = client.get("/reports/data-docs/index.html")
    assert status == 200 and b"readiness" in body and "sandbox" in headers["content-security-policy"]
    for path in ("/reports/../trialdw-users.json", "/reports/%2e%2e/trialdw-users.json", "/reports/review.html/x"):
        assert client.get(path)[0] == 404, path
    _, _, page = client.get("/")
    assert b'href="/reports/findings.xlsx"' in page and b'href="/reports/data-docs/index.html"' in page


# ---------------------------------------------------------------- accounts


def test_users_file_is_0600_with_scrypt_hashes_only_and_a_wider_file_is_refused(warehouse, tmp_path):
    users = WarehousePaths(warehouse).users
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    text = users.read_text()
    assert DM_PASSWORD not in text and VIEWER_PASSWORD not in text
    entry = json.loads(text)["users"][DM]["password"]
    assert (entry["kdf"], entry["n"], entry["r"], entry["p"]) == ("scrypt", 2**15, 8, 1)
    assert len(entry["salt"]) == 24  # 16 bytes, base64
    store = WarehousePaths(warehouse).annotations
    assert stat.S_IMODE(store.stat().st_mode) == 0o600

    copy = tmp_path / "w" / "trialdw.duckdb"
    copy.parent.mkdir()
    shutil.copy2(users, WarehousePaths(copy).users)
    WarehousePaths(copy).users.chmod(0o644)
    done = subprocess.run([*TRIALDW, "users", "list", "--warehouse", str(copy)], capture_output=True, text=True)
    assert done.returncode == 1 and "has mode 0644" in done.stderr and "chmod 600" in done.stderr


def test_passwords_never_come_from_the_command_line(warehouse):
    done = subprocess.run(
        [*TRIALDW, "users", "add", "eve", "--role", "viewer", "--warehouse", str(warehouse), "--password", "x" * 20],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
    short = add_user(warehouse, "eve", "viewer", "short")
    assert short.returncode == 1 and short.stderr.strip() == "trialdw: password too short: at least 12 characters"
    assert add_user(warehouse, DM, "viewer", "another long password").stderr.strip() == f"trialdw: user {DM} exists"
    assert add_user(warehouse, "trialdw-nightly", "viewer", "another long password").returncode == 1
    listing = subprocess.run([*TRIALDW, "users", "list", "--warehouse", str(warehouse)], capture_output=True, text=True)
    assert re.search(rf"^{DM}\s+data-manager\s+active", listing.stdout, re.M)
    assert re.search(rf"^{VIEWER}\s+viewer\s+active", listing.stdout, re.M)


@pytest.fixture
def scratch(warehouse, tmp_path):
    """A copy of the warehouse with its accounts, for tests that lock out, expire or replace things."""
    db = tmp_path / "wh" / "trialdw.duckdb"
    db.parent.mkdir()
    shutil.copyfile(warehouse, db)
    shutil.copy2(WarehousePaths(warehouse).users, WarehousePaths(db).users)
    return db


def test_repeated_failed_logins_lock_the_user_and_the_address_out(scratch, tmp_path):
    with ReviewServer(scratch, tmp_path / "server.log") as server:
        for _ in range(5):
            assert Client(server).login(DM, "not the password")[0] == 401
        status, headers, payload = Client(server).login(DM, DM_PASSWORD)  # right password, still locked
        assert status == 429 and int(headers["retry-after"]) > 800 and "too many failed logins" in payload["detail"]
        # The address is locked as well (5 failures from it), so guessing another name does not help.
        assert Client(server).login(VIEWER, VIEWER_PASSWORD)[0] == 429
        log = server.log()
    assert "failed login for user 'dana' from 127.0.0.1" in log and "now locked out" in log
    assert DM_PASSWORD not in log and "not the password" not in log
    from trialdw.review_app.annotations import AnnotationStore

    events = [(e["EVENT"], e["BY"]) for e in AnnotationStore(WarehousePaths(scratch).annotations).events()]
    assert events.count(("login_failed", DM)) == 5 and ("login_locked", DM) in events


def test_sessions_expire_when_idle_and_a_disabled_account_loses_its_session(scratch, tmp_path):
    with ReviewServer(scratch, tmp_path / "server.log", "--idle-minutes", "0.05") as server:  # 3 s
        idle = logged_in(server)
        assert idle.get("/api/session")[0] == 200
        time.sleep(4)
        assert idle.get("/api/session")[0] == 401

        active = logged_in(server, VIEWER, VIEWER_PASSWORD)
        assert active.get("/api/findings")[0] == 200
        done = subprocess.run(
            [*TRIALDW, "users", "disable", VIEWER, "--warehouse", str(scratch)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert active.get("/api/findings")[0] == 401
        assert Client(server).login(VIEWER, VIEWER_PASSWORD)[0] == 401


def test_the_app_follows_a_night_that_replaced_the_warehouse(scratch, tmp_path):
    with ReviewServer(scratch, tmp_path / "server.log") as server:
        client = logged_in(server)
        assert client.findings(state="")["total"] == 5
        # What a night does: build a new file beside it, then os.replace it over the published one.
        building = scratch.with_name(".trialdw.duckdb.building-x")
        shutil.copyfile(scratch, building)
        with duckdb.connect(str(building)) as con:
            con.execute("DELETE FROM audit.findings WHERE RULE = 'extra_columns'")
        os.replace(building, scratch)
        assert client.findings(state="")["total"] == 4


# ---------------------------------------------------------------- in the browser

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")


def browser_login(browser, server, user: str, password: str) -> None:
    browser.goto(server.base + "/", expect=server.base + "/login")
    browser.fill("#login-user", user)
    browser.fill("#login-password", password)
    browser.click("#login-submit")
    # The app keeps its filters in the URL's fragment, so compare without it.
    browser.wait_for("location.pathname === '/' && document.body && document.body.dataset.loaded")


def visible_states(browser) -> dict[str, str]:
    return browser.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('#findings-body tr'))"
        ".map(r => [r.dataset.id, r.dataset.state]))"
    )


@needs_chromium
def test_a_data_manager_raises_a_query_in_the_browser_and_it_is_there_after_a_reload(server, warehouse, tmp_path):
    client = logged_in(server)
    fid = finding_id(client, "whitespace")
    with HeadlessChromium(server.base + "/login", tmp_path) as browser:
        browser_login(browser, server, DM, DM_PASSWORD)
        session = [c for c in browser.cookies() if c["name"] == "trialdw_session"]
        assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
        assert browser.evaluate("document.cookie") == ""  # invisible to scripts
        assert fid in visible_states(browser)

        browser.click(f'#findings-body tr[data-id="{fid}"]')
        browser.wait_for("!document.getElementById('detail').hidden")
        browser.select("#annotate-state", "query_raised")
        browser.fill("#annotate-query-ref", "EDC-1234")
        browser.fill("#annotate-comment", COMMENT_MARKUP)
        browser.click("#annotate-submit")
        browser.wait_for("document.getElementById('annotate-message').className === 'ok'")
        assert browser.text("#annotate-message") == "Recorded: new → query raised"

        browser.reload()
        browser.wait_for(
            "document.body && document.body.dataset.loaded"
            " && document.querySelector('#detail-history tr[data-entry]') !== null"
        )
        assert visible_states(browser)[fid] == "query_raised"
        rows = browser.evaluate(
            "Array.from(document.querySelectorAll('#detail-history tbody tr'))"
            ".map(r => Array.from(r.cells).map(c => c.textContent))"
        )
        assert len(rows) == 1
        when, who, from_state, to_state, reason, query_ref, comment = rows[0]
        assert (who, from_state, to_state, reason, query_ref, comment) == (
            DM,
            "new",
            "query raised",
            "",
            "EDC-1234",
            COMMENT_MARKUP,
        )
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", when)
        # Markup in the comment and in the site's value stayed text: nothing ran, no element was made of it.
        assert browser.evaluate("typeof window.__xss") == "undefined"
        assert browser.evaluate("document.images.length") == 0
        assert browser.evaluate("document.scripts.length") == 1
        assert MARKUP.strip() in browser.text("#detail-fields")
        browser.screenshot(tmp_path / "review-app.png")
    assert history(warehouse, fid)[-1] == (DM, "new", "query_raised", None)


@needs_chromium
def test_a_viewer_sees_no_edit_controls_and_the_api_refuses_a_change_from_the_page(server, tmp_path):
    with HeadlessChromium(server.base + "/login", tmp_path) as browser:
        browser_login(browser, server, VIEWER, VIEWER_PASSWORD)
        browser.click("#findings-body tr")
        browser.wait_for("!document.getElementById('detail').hidden")
        assert not browser.exists("#annotate") and not browser.exists("#annotate-submit")
        assert browser.exists("#read-only-note")
        status = browser.evaluate(
            """(async () => {
                const id = document.querySelector('#findings-body tr').dataset.id;
                const token = document.querySelector('meta[name="csrf-token"]').content;
                const r = await fetch('/api/findings/' + id + '/annotations', {method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                    body: JSON.stringify({state: 'acknowledged'})});
                return r.status; })()"""
        )
        assert status == 403
        browser.click("#logout")
        browser.wait_for(f"location.href === {json.dumps(server.base + '/login')}")
        browser.goto(server.base + "/", expect=server.base + "/login")
