"""The study is the unit of work and of failure (real flow runs, real files).

One module fixture plays four nights of the two seed studies with the real
flow against the session's Prefect test server:

A. a readiness contract that only SURU's rows can fail: REGO is published,
   SURU is held back with the reason (no tables: it was never published), and
   the notify command hears of it;
B. the normal contract: SURU is rebuilt and published, nothing else changed;
C. one site sends a new transfer: only its study is rebuilt; the other study's
   tables, report page and export files are carried over untouched (and the
   lineage page, which B kept from A, is written again: its stamp is made stale);
D. nothing new: nothing is built or published;
E. the same site's next transfer: only its study is rebuilt, and, the lineage
   page being current, without the single-cell models (REGO has no single-cell
   data): SURU's single-cell tables are carried over with the rest.

And, directly on the build step, a study whose rows break a dbt test when
built together with another is held back alone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from tests.helpers.readiness_contracts import SURU_ONLY_FAILS
from trialdw import warehouse as wh
from trialdw.cli import load_nightly_flow
from trialdw.synth import generate

pytestmark = pytest.mark.slow

REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
FIRST, SECOND = "20260720T020000Z", "20261119T020000Z"
NEW, NEWER = "20261120T020000Z", "20261121T020000Z"
NOTIFY = """\
import json, os, sys
record = {"env": {k: v for k, v in os.environ.items() if k.startswith("TRIALDW_")}, "stdin": json.load(sys.stdin)}
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(record) + "\\n")
"""


def _query(path: Path, sql: str, params=None):
    with wh.connect_read_only(path) as con:
        return con.execute(sql, params or []).fetchall()


def _new_transfer(landing: Path, study: str, latest: str = SECOND, new: str = NEW) -> None:
    """A copy of the site's latest transfer under a later TRANSFER_ID."""
    site = landing / study / "101"
    shutil.copytree(site / latest, site / new)
    manifest = json.loads((site / new / "manifest.json").read_text())
    manifest["transfer_id"] = new
    (site / new / "manifest.json").write_text(json.dumps(manifest))


def _exports(warehouse: Path, study: str) -> dict[str, int]:
    latest = warehouse.parent / "trialdw-exports" / "latest" / study
    return {str(p.relative_to(latest)): p.stat().st_ino for p in sorted(latest.rglob("*")) if p.is_file()}


def _mtimes(target: Path) -> dict[str, int]:
    """dbt's artifacts in its target folder (what the lineage page is made from)."""
    names = ("manifest.json", "run_results.json", "graph.gpickle")
    return {name: (target / name).stat().st_mtime_ns for name in names if (target / name).is_file()}


@pytest.fixture(scope="module")
def nights(tmp_path_factory, prefect_harness):
    root = tmp_path_factory.mktemp("portfolio")
    generate(root / "landing", seed=9, subjects=6)
    warehouse = root / "wh" / "trialdw.duckdb"
    contract = root / "suru-fails.yml"
    contract.write_text(SURU_ONLY_FAILS)
    notify_script = root / "notify.py"
    notify_script.write_text(NOTIFY)
    notified = root / "notified.jsonl"
    nightly = load_nightly_flow()

    def night(**extra):
        return nightly(landing=str(root / "landing"), warehouse=str(warehouse), **extra)

    seen = {"root": root, "warehouse": warehouse, "notified": notified}
    seen["A"] = night(readiness_contract=str(contract), notify_command=f"{sys.executable} {notify_script} {notified}")
    seen["A_tables"] = _query(warehouse, "SELECT STUDYID, count(*) FROM adam.adsl GROUP BY 1 ORDER BY 1")
    seen["A_pages"] = sorted(p.name for p in (root / "wh" / "trialdw-reports" / "study-reports").iterdir())
    seen["A_leftovers"] = sorted(p.name for p in (root / "wh").iterdir() if p.name.startswith("."))
    lineage = root / "wh" / "trialdw-reports" / "lineage"
    seen["A_lineage"] = (lineage / "index.html").read_bytes()
    artifacts = wh.WarehousePaths(warehouse).dbt_state / "target"
    seen["A_artifacts"] = _mtimes(artifacts)
    seen["B"] = night()
    seen["B_lineage"] = (lineage / "index.html").read_bytes()
    seen["B_artifacts"] = _mtimes(artifacts)
    (lineage / "written-by.txt").write_text("code 0123456789abcdef, dbt 1.0.0\n")  # as an older version left it
    seen["B_rego_adsl"] = _query(warehouse, "SELECT * FROM adam.adsl WHERE STUDYID = ? ORDER BY USUBJID", [REGO])
    seen["B_suru_page"] = (root / "wh" / "trialdw-reports" / "study-reports" / f"{SURU}.html").read_bytes()
    seen["B_suru_exports"] = _exports(warehouse, SURU)
    seen["B_suru_adsl"] = _query(warehouse, "SELECT * FROM adam.adsl WHERE STUDYID = ? ORDER BY USUBJID", [SURU])
    _new_transfer(root / "landing", REGO)
    seen["C"] = night()
    seen["C_published"] = warehouse.read_bytes()
    seen["C_current"] = _query(
        warehouse, "SELECT TRANSFER_ID FROM audit.transfers WHERE STUDYID = ? AND CURRENT = 'Y'", [REGO]
    )
    seen["C_builds"] = dict(_query(warehouse, "SELECT STUDYID, PUBLISHED_RUN_ID FROM audit.study_builds"))
    seen["C_lineage"] = (lineage / "index.html").read_bytes(), (lineage / "written-by.txt").read_text()
    seen["C_artifacts"] = _mtimes(artifacts)
    seen["D"] = night()
    seen["D_published"] = warehouse.read_bytes()
    single_cell = "SELECT STUDYID, count(*), sum(AVAL) FROM adam.{} GROUP BY 1 ORDER BY 1"
    seen["D_single_cell"] = [_query(warehouse, single_cell.format(t)) for t in ("adcp", "adgf")]
    _new_transfer(root / "landing", REGO, NEW, NEWER)
    seen["E"] = night()
    seen["E_single_cell"] = [_query(warehouse, single_cell.format(t)) for t in ("adcp", "adgf")]
    runs = [json.loads(line) for line in (root / "wh" / "trialdw-runs.jsonl").read_text().splitlines()]
    seen["E_dbt"] = [group["dbt_summary"] for group in runs[-1]["details"]["dbt"]]
    seen["assembled_during_checks"] = [r["details"].get("assembled_during_checks") for r in runs if r["event"] == "end"]
    return seen


def test_a_study_failing_its_checks_is_held_back_and_the_other_is_published(nights):
    a = nights["A"]
    assert set(a["held_back"]) == {SURU}
    assert a["held_back"][SURU].startswith("analysis-readiness checks failed: adam.adsl: STUDY_IS_NOT_SURU failed")
    assert a["studies"] == [
        f"{REGO}: published (first build)",
        f"{SURU}: held back, keeps its published tables: {a['held_back'][SURU]}",
    ]
    assert a["news"] == f"4 new transfer(s) processed; held back: {SURU}"
    assert [row[0] for row in nights["A_tables"]] == [REGO]  # SURU was never published: no rows at all
    # The held-back study has no page (none was published before), and no private file is left.
    assert nights["A_pages"] == sorted(["index.html", f"{REGO}.html"])
    assert not [name for name in nights["A_leftovers"] if "building" in name or name.endswith("-work")]


def test_the_notify_command_hears_of_the_held_back_study_without_a_shell(nights):
    (record,) = [json.loads(line) for line in nights["notified"].read_text().splitlines()]
    assert record["env"]["TRIALDW_STATUS"] == "held back"
    assert record["env"]["TRIALDW_HELD_BACK"] == SURU
    assert record["env"]["TRIALDW_MESSAGE"].startswith(f"{SURU}: analysis-readiness checks failed")
    assert record["stdin"]["held_back"] == nights["A"]["held_back"]
    assert record["stdin"]["run_id"] == nights["A"]["run_id"]


def test_the_held_back_study_is_published_once_its_inputs_change(nights):
    b = nights["B"]
    assert b["held_back"] == {}
    # The readiness contract is an input of every study: both are rebuilt.
    assert b["studies"] == [
        f"{REGO}: published (readiness contract changed)",
        f"{SURU}: published (held back before; readiness contract changed)",
    ]
    assert nights["B_suru_adsl"]
    builds = {
        r[0]: r[1:]
        for r in _query(
            nights["warehouse"], "SELECT STUDYID, STATUS, PUBLISHED_RUN_ID, HELD_BACK_SINCE FROM audit.study_builds"
        )
    }
    assert builds[SURU][0] == "published" and builds[SURU][2] is None


def test_one_site_s_new_transfer_rebuilds_its_study_only(nights):
    c, warehouse = nights["C"], nights["warehouse"]
    assert c["news"] == "1 new transfer(s) processed"
    assert c["studies"] == [f"{REGO}: published (new transfer 101/{NEW})", f"{SURU}: unchanged, carried over"]
    # SURU's tables, report page and exports are yesterday's, untouched (the same files, hard-linked).
    assert (
        _query(warehouse, "SELECT * FROM adam.adsl WHERE STUDYID = ? ORDER BY USUBJID", [SURU]) == nights["B_suru_adsl"]
    )
    page = warehouse.parent / "trialdw-reports" / "study-reports" / f"{SURU}.html"
    assert page.read_bytes() == nights["B_suru_page"]
    assert _exports(warehouse, SURU) == nights["B_suru_exports"]
    # REGO's current transfer is the new one; the study was rebuilt from it.
    assert nights["C_current"] == [(NEW,)]
    builds = nights["C_builds"]
    assert builds[REGO] == c["run_id"] and builds[SURU] == nights["B"]["run_id"]


def test_the_lineage_page_is_written_again_only_for_other_code(nights):
    """It documents the code: B (same code as A) keeps A's page byte for byte;
    C, whose stamp says another code version wrote the page, writes it again."""
    from dbt.version import __version__ as dbt_version

    from trialdw.study_plan import code_fingerprint

    assert '"model.trialdw.adsl"' in nights["A_lineage"].decode()
    assert nights["B_lineage"] == nights["A_lineage"]
    # B's build wrote no dbt artifacts (nothing would read them); C's did, for its page.
    assert set(nights["A_artifacts"]) == {"manifest.json", "run_results.json", "graph.gpickle"}
    assert nights["B_artifacts"] == nights["A_artifacts"]
    assert all(nights["C_artifacts"][name] > nights["A_artifacts"][name] for name in nights["A_artifacts"])
    page, stamp = nights["C_lineage"]
    assert stamp == f"code {code_fingerprint()}, dbt {dbt_version}\n"
    assert page != nights["A_lineage"] and '"model.trialdw.adsl"' in page.decode()


def test_a_night_with_nothing_new_builds_and_publishes_nothing(nights):
    d = nights["D"]
    assert d["published"] is False and d["news"].startswith("nothing new")
    assert nights["D_published"] == nights["C_published"]


def test_a_study_whose_rows_break_a_dbt_test_is_held_back_alone(tmp_path):
    """Two studies built together; a duplicate subject planted in SURU's history
    (the loader would have quarantined it) fails dbt's unique test. The group is
    built again study by study: REGO passes, SURU alone fails."""
    from trialdw.dbt_runner import DbtSession
    from trialdw.ingest import ingest_landing
    from trialdw.ingest.contracts import load_contracts
    from trialdw.study_build import build_with_isolation
    from trialdw.study_config import load_studies

    generate(tmp_path / "landing", seed=9, subjects=4)
    history_path = tmp_path / "history-store.duckdb"
    studies, contracts = load_studies(), load_contracts()
    with duckdb.connect(str(history_path)) as con:
        ingest_landing(con, tmp_path / "landing", studies, tmp_path / "work", "run", contracts)
        # The same DM version listed twice in SURU's current transfer.
        con.execute(
            """INSERT INTO history.layout
               SELECT DOMAIN, STUDYID, SITEID, TRANSFER_ID, FIRST_VERSION, 1, 10000
               FROM history.layout WHERE DOMAIN = 'DM' AND STUDYID = ? AND TRANSFER_ID = ? LIMIT 1""",
            [SURU, SECOND],
        )
    messages, dbt_said = [], []
    groups = build_with_isolation(
        DbtSession(log=dbt_said.append), history_path, tmp_path / "build", studies, contracts, log=messages.append
    )
    assert [(g.studies, g.dbt_ok) for g in groups] == [([REGO], True), ([SURU], False)]
    assert messages and messages[0].startswith("dbt failed for 2 studies built together")
    assert any("unique" in f for f in groups[1].dbt_failures)
    # dbt's own error lines reach the night's log (not dbt's console logger).
    assert any(line.startswith("Failure in test unique_") for line in dbt_said), dbt_said
    assert not os.path.exists(tmp_path / "build" / "all")  # the failed group's file is gone


def test_a_study_without_single_cell_data_is_rebuilt_without_the_single_cell_models(nights):
    e = nights["E"]
    assert e["held_back"] == {} and e["published"] is True
    assert e["studies"] == [f"{REGO}: published (new transfer 101/{NEWER})", f"{SURU}: unchanged, carried over"]
    # 54 of the 63 models, and none of the tests on the 9 left out (readiness skips their tables too).
    (summary,) = nights["E_dbt"]
    assert summary.startswith("dbt build ok: 54 models, 59 tests passed / 0 failed")
    # SURU's single-cell rows are last night's, in the published file as before; REGO has none.
    assert nights["E_single_cell"] == nights["D_single_cell"]
    assert [[row[0] for row in table] for table in nights["E_single_cell"]] == [[SURU], [SURU]]


def test_tonights_file_is_assembled_while_the_checks_run_unless_they_hold_a_study_back(nights):
    """A (SURU held back by its checks): the file assembled as if every check passed
    is replaced by one assembled again; B, C and E publish it; D builds nothing."""
    assert nights["assembled_during_checks"] == [False, True, True, None, True]
