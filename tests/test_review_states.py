"""Query states without a server: the workflow rules, the append-only store (a real SQLite file),
the nightly's automatic transitions over a real warehouse built by the real ingest, accounts,
sessions and the failed-login lockout (with a clock the test moves)."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading

import duckdb
import pytest

from tests.helpers.transfers import STUDY, ae_row, base_files, csv_text, study_config, write_transfer
from trialdw.ingest import ingest_landing, load_contracts
from trialdw.review_app.accounts import AccountError, UsersFile, verify_password
from trialdw.review_app.annotations import AnnotationStore
from trialdw.review_app.sessions import LoginThrottle, SessionStore
from trialdw.review_app.state_sync import sync_states, write_annotation_tables
from trialdw.review_app.states import Change, TransitionError, check_person_change, system_change

# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    "current, change, status, allowed",
    [
        ("new", Change("acknowledged"), "open", True),
        ("new", Change("query_raised", query_ref="Q-1"), "open", True),  # steps may be skipped
        ("answered", Change("query_raised", comment="answer incomplete"), "open", True),  # and taken back
        ("closed", Change("acknowledged", comment="closed by mistake"), "open", True),  # re-open by hand
        ("new", Change("closed", comment="site confirmed", reason="accepted_as_is"), "open", True),
        ("new", Change("closed", reason="accepted_as_is"), "open", False),  # accepting needs a why
        ("new", Change("closed", reason="resolved_by_data"), "open", False),  # the data says otherwise
        ("query_raised", Change("closed", reason="resolved_by_data"), "resolved", True),
        ("new", Change("closed"), "open", False),  # closing needs a reason
        ("new", Change("acknowledged", reason="accepted_as_is"), "open", False),
        ("acknowledged", Change("new"), "open", False),  # only the nightly run sets new
        ("acknowledged", Change("acknowledged"), "open", False),  # no change, no comment: nothing to record
        ("acknowledged", Change("acknowledged", comment="called the site"), "open", True),  # a note
        ("new", Change("bogus"), "open", False),
        ("new", Change("acknowledged", comment="x" * 4001), "open", False),
        ("new", Change("acknowledged", comment="bell \x07"), "open", False),
    ],
)
def test_what_a_data_manager_may_record(current, change, status, allowed):
    if allowed:
        assert check_person_change(current, change, warehouse_status=status).to_state == change.to_state
    else:
        with pytest.raises(TransitionError):
            check_person_change(current, change, warehouse_status=status)


@pytest.mark.parametrize(
    "state, reason, status, move",
    [
        ("new", None, "resolved", ("closed", "resolved_by_data")),
        ("query_raised", None, "resolved", ("closed", "resolved_by_data")),
        ("closed", "resolved_by_data", "open", ("new", None)),  # it came back
        ("closed", "accepted_as_is", "open", None),  # confirmed: stays closed while it persists
        ("closed", "accepted_as_is", "resolved", None),
        ("closed", "resolved_by_data", "resolved", None),
        ("acknowledged", None, "open", None),
    ],
)
def test_what_the_nightly_run_records(state, reason, status, move):
    assert system_change(state, reason, status) == move


# ---------------------------------------------------------------- the store


def test_the_store_is_append_only_and_every_chain_unbroken(tmp_path):
    store = AnnotationStore(tmp_path / "a.sqlite").create()
    assert stat.S_IMODE((tmp_path / "a.sqlite").stat().st_mode) == 0o600
    first = store.append("f1", "dana", Change("query_raised", "sent", "Q-1"))
    store.append("f1", "dana", Change("answered", "site says typo"))
    store.log_event("login", "dana", "127.0.0.1")
    with sqlite3.connect(tmp_path / "a.sqlite") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        for sql in ("UPDATE annotations SET BY = 'eve'", "DELETE FROM annotations", "DELETE FROM events"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(sql)
        with pytest.raises(sqlite3.DatabaseError, match="FROM_STATE is not the current state"):
            raw.execute(
                "INSERT INTO annotations (FINDING_ID, AT, BY, FROM_STATE, TO_STATE) "
                "VALUES ('f1', 'x', 'eve', 'new', 'acknowledged')"
            )
        with pytest.raises(sqlite3.IntegrityError):  # closed without a reason
            raw.execute(
                "INSERT INTO annotations (FINDING_ID, AT, BY, FROM_STATE, TO_STATE) "
                "VALUES ('f1', 'x', 'eve', 'answered', 'closed')"
            )
    assert [(e.FROM_STATE, e.TO_STATE) for e in store.history("f1")] == [
        ("new", "query_raised"),
        ("query_raised", "answered"),
    ]
    current = store.current("f1")
    assert (current.STATE, current.QUERY_REF, current.STATE_BY) == ("answered", "Q-1", "dana")  # the ref carries on
    assert first.ENTRY_ID == 1 and store.version() == (2, 2)


def test_two_people_changing_one_finding_at_once_do_not_overwrite_each_other(tmp_path):
    store = AnnotationStore(tmp_path / "a.sqlite").create()
    outcomes, start = [], threading.Barrier(8)

    def attempt(i: int) -> None:
        start.wait()
        try:
            store.append("f1", f"dm{i}", Change("acknowledged"), expected_state="new")
            outcomes.append("recorded")
        except TransitionError as exc:
            outcomes.append(exc.status)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == [409] * 7 + ["recorded"]
    assert len(store.history("f1")) == 1


# ---------------------------------------------------------------- the nightly's transitions, real warehouse

T1, T2, T3 = "20250301T020000Z", "20250401T020000Z", "20250501T020000Z"
S1, S2 = f"{STUDY}-101-001", f"{STUDY}-101-002"


def ae_files(defect_a: bool) -> dict[str, str]:
    """A: AESER outside its codelist (fixed in T2, back in T3); B: AETOXGR 9 (outside its codelist too),
    in every transfer."""
    files = base_files()
    files["AE.csv"] = csv_text(
        [ae_row(S1, 1, AESER="MAYBE" if defect_a else "N"), ae_row(S2, 1, AETOXGR="9"), ae_row(S2, 2)]
    )
    return files


def night(con, store, landing, tmp_path, transfer: str, defect_a: bool, run: str):
    write_transfer(landing, transfer, ae_files(defect_a))
    ingest_landing(con, landing, {STUDY: study_config()}, tmp_path / f"work-{run}", run, load_contracts())
    synced = sync_states(store, con, run)
    write_annotation_tables(con, store)
    return synced


def states(con) -> dict[str, tuple]:
    return {
        column: (status, state, reason)
        for column, status, state, reason in con.execute(
            "SELECT COLUMN_NAME, STATUS, STATE, STATE_REASON FROM audit.findings WHERE DOMAIN = 'AE'"
        ).fetchall()
    }


def test_resolved_findings_close_reappearing_ones_reopen_accepted_ones_stay_closed(tmp_path):
    landing, db = tmp_path / "landing", tmp_path / "trialdw.duckdb"
    store = AnnotationStore(tmp_path / "trialdw-annotations.sqlite").create()
    with duckdb.connect(str(db)) as con:
        night(con, store, landing, tmp_path, T1, defect_a=True, run="R1")
        assert states(con) == {"AESER": ("open", "new", None), "AETOXGR": ("open", "new", None)}
        ids = dict(con.execute("SELECT COLUMN_NAME, FINDING_ID FROM audit.findings WHERE DOMAIN = 'AE'").fetchall())
        store.append(ids["AESER"], "dana", Change("query_raised", "is MAYBE a yes?", "EDC-1"))
        store.append(
            ids["AETOXGR"], "dana", Change("closed", "site: grade 9 is their local scale", None, "accepted_as_is")
        )

        synced = night(con, store, landing, tmp_path, T2, defect_a=False, run="R2")
        assert (synced.closed, synced.reopened) == (1, 0)
        assert states(con) == {
            "AESER": ("resolved", "closed", "resolved_by_data"),
            "AETOXGR": ("open", "closed", "accepted_as_is"),  # persists, stays closed
        }
        assert sync_states(store, con, "R2-again").closed == 0  # idempotent

        synced = night(con, store, landing, tmp_path, T3, defect_a=True, run="R3")
        assert (synced.closed, synced.reopened) == (0, 1)
        assert states(con)["AESER"] == ("open", "new", None)
        assert states(con)["AETOXGR"] == ("open", "closed", "accepted_as_is")
        history = con.execute(
            'SELECT "BY", FROM_STATE, TO_STATE, REASON, QUERY_REF, RUN_ID, COMMENT FROM audit.finding_annotations '
            "WHERE FINDING_ID = ? ORDER BY ENTRY_ID",
            [ids["AESER"]],
        ).fetchall()
        assert [row[:6] for row in history] == [
            ("dana", "new", "query_raised", None, "EDC-1", None),
            ("trialdw-nightly", "query_raised", "closed", "resolved_by_data", None, "R2"),
            ("trialdw-nightly", "closed", "new", None, None, "R3"),
        ]
        assert history[1][6] == f"resolved by data: transfer {T2} no longer has it"
        assert history[2][6] == f"re-opened: transfer {T3} has it again"
        # The query reference stays on the finding; the types are the warehouse's.
        assert con.execute("SELECT QUERY_REF FROM audit.findings WHERE FINDING_ID = ?", [ids["AESER"]]).fetchall() == [
            ("EDC-1",)
        ]
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'audit' AND table_name = 'finding_annotations'"
            ).fetchall()
        )
        assert (types["AT"], types["ENTRY_ID"]) == ("TIMESTAMP", "BIGINT")


# ---------------------------------------------------------------- accounts, sessions, lockout


def test_accounts_store_scrypt_hashes_in_a_0600_file_and_refuse_a_wider_one(tmp_path):
    users = UsersFile(tmp_path / "w-users.json")
    users.add("dana", "data-manager", "a long enough password")
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    stored = json.loads(users.path.read_text())["users"]["dana"]["password"]
    assert "a long enough password" not in users.path.read_text()
    assert verify_password("a long enough password", stored) and not verify_password("a long enough passworD", stored)
    assert users.authenticate("dana", "a long enough password").role == "data-manager"
    assert users.authenticate("dana", "wrong") is None and users.authenticate("nobody", "x" * 12) is None
    users.disable("dana")
    assert users.authenticate("dana", "a long enough password") is None
    users.path.chmod(0o640)
    with pytest.raises(AccountError, match="mode 0640"):
        users.accounts()
    with pytest.raises(AccountError, match="role must be one of"):
        UsersFile(tmp_path / "other.json").add("x", "admin", "a long enough password")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_end_when_idle_or_too_old_and_tokens_are_kept_hashed():
    clock = Clock()
    sessions = SessionStore(idle_seconds=60, absolute_seconds=300, clock=clock)
    token, session = sessions.create("dana", "data-manager")
    assert token not in str(sessions._sessions)  # only its sha256 is kept
    assert session.csrf_matches(session.csrf_token) and not session.csrf_matches("x") and not session.csrf_matches(None)
    for _ in range(5):
        clock.now += 50  # active every 50 s ...
        assert sessions.get(token) is session
    clock.now += 51  # ... but 301 s after login it is over however active
    assert sessions.get(token) is None
    token, _ = sessions.create("dana", "data-manager")
    clock.now += 61
    assert sessions.get(token) is None  # idle too long
    assert sessions.get("made-up") is None and sessions.get(None) is None


def test_failed_logins_lock_a_name_and_an_address_for_a_while():
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, window_seconds=900, lock_seconds=900, clock=clock)
    for i in range(4):
        assert throttle.failed("dana", "10.0.0.1") is False, i
    assert throttle.retry_after("dana", "10.0.0.9") == 0
    assert throttle.failed("dana", "10.0.0.1") is True
    assert throttle.retry_after("dana", "10.0.0.9") == 900  # the name, from anywhere
    assert throttle.retry_after("victor", "10.0.0.1") == 900  # the address, for any name
    assert throttle.retry_after("victor", "10.0.0.9") == 0
    clock.now += 901
    assert throttle.retry_after("dana", "10.0.0.1") == 0
    # Failures spread out beyond the window never add up to a lockout.
    for _ in range(10):
        clock.now += 1000
        assert throttle.failed("eve", "10.0.0.2") is False
