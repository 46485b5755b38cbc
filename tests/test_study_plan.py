"""Which studies a night builds (trialdw.study_plan): hand-written inputs, every branch."""

from __future__ import annotations

import dataclasses

import duckdb

from trialdw.study_config import load_studies
from trialdw.study_plan import (
    BUILD,
    CARRY,
    HELD_BACK,
    HOLD,
    PUBLISHED,
    StudyBuildRecord,
    plan_studies,
    read_study_builds,
    record_for,
    write_study_builds,
)

STUDIES = load_studies()
REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
T1, T2 = {"101": "20260720T020000Z"}, {"101": "20261119T020000Z"}


def _plan(transfers, previous, code="c1", readiness="r1"):
    return {p.study: p for p in plan_studies(STUDIES, transfers, previous, code, readiness)}


def _published(plan, run="run-1") -> StudyBuildRecord:
    return record_for(plan, run, published=True, reason=None)


def test_first_night_builds_every_configured_study_even_without_data():
    plans = _plan({REGO: T1}, {})
    assert {s: (p.action, p.why) for s, p in plans.items()} == {
        REGO: (BUILD, "first build"),
        SURU: (BUILD, "first build"),
    }
    assert plans[SURU].inputs.transfers == {}


def test_unchanged_inputs_are_carried_and_a_new_transfer_rebuilds_only_its_study():
    first = _plan({REGO: T1, SURU: T1}, {})
    previous = {s: _published(p) for s, p in first.items()}
    same = _plan({REGO: T1, SURU: T1}, previous)
    assert {s: p.action for s, p in same.items()} == {REGO: CARRY, SURU: CARRY}
    new = _plan({REGO: T2, SURU: T1}, previous)
    assert (new[REGO].action, new[REGO].why) == (BUILD, "new transfer 101/20261119T020000Z")
    assert new[SURU].action == CARRY


def test_code_study_file_and_readiness_changes_rebuild_with_the_reason():
    first = _plan({REGO: T1}, {})
    previous = {s: _published(p) for s, p in first.items()}
    assert _plan({REGO: T1}, previous, code="c2")[REGO].why == "code or contracts changed"
    assert _plan({REGO: T1}, previous, readiness="r2")[REGO].why == "readiness contract changed"
    edited = {**STUDIES, REGO: dataclasses.replace(STUDIES[REGO], sd_minimum_days=42)}
    plan = {p.study: p for p in plan_studies(edited, {REGO: T1}, previous, "c1", "r1")}[REGO]
    assert (plan.action, plan.why) == (BUILD, "study file changed")


def test_a_held_back_study_is_not_retried_until_its_inputs_change():
    first = _plan({REGO: T1, SURU: T1}, {})
    held = record_for(first[SURU], "run-1", published=False, reason="analysis-readiness checks failed: …")
    assert (held.status, held.held_back_since, held.published_run_id) == (HELD_BACK, "run-1", None)
    previous = {REGO: _published(first[REGO]), SURU: held}
    again = _plan({REGO: T1, SURU: T1}, previous)
    assert (again[SURU].action, again[SURU].why) == (HOLD, "still held back: analysis-readiness checks failed: …")
    changed = _plan({REGO: T1, SURU: T2}, previous)
    assert (changed[SURU].action, changed[SURU].why) == (BUILD, "held back before; new transfer 101/20261119T020000Z")
    # Held back a second night in a row: still held back since the first.
    second = record_for(changed[SURU], "run-2", published=False, reason="again")
    assert (second.held_back_since, second.attempt_run_id) == ("run-1", "run-2")


def test_study_builds_round_trip_through_the_published_file(tmp_path):
    first = _plan({REGO: T1, SURU: T1}, {})
    records = [_published(first[REGO]), record_for(first[SURU], "run-1", published=False, reason="why")]
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        write_study_builds(con, records)
    assert read_study_builds(path) == {r.study: r for r in records}
    assert records[0].status == PUBLISHED and records[0].published_inputs["transfers"] == T1
    assert read_study_builds(tmp_path / "missing.duckdb") == {}
