"""Query states across real nights: the real nightly flow (Prefect test server, dbt, GX, publish)
three times over synth transfers, with the review app serving the published warehouse the
whole time and a data manager working findings between the nights.

- Night 1: the first transfer of each study's site 101. The data manager raises a query on
  REGO's codelist finding (the site fixes it in its next transfer), accepts REGO's whitespace
  finding as is (the site keeps sending it), acknowledges REGO's mojibake finding and marks
  SURU's codelist finding answered.
- Night 2: REGO's second transfer. The codelist finding is resolved: the night closes it as
  resolved by data; every other state is still what the data manager left.
- Night 3: a third REGO transfer with the first transfer's content: the codelist finding is
  back, so the night re-opens it (new), its history kept; the accepted one stays closed.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers.review_server import Client, ReviewServer, add_user
from trialdw import warehouse as wh
from trialdw.cli import load_nightly_flow
from trialdw.synth import generate

pytestmark = pytest.mark.slow  # three real nights: a few minutes

REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
FIRST, SECOND, THIRD = "20260720T020000Z", "20261119T020000Z", "20261201T020000Z"
DM, PASSWORD = "dana", "dana's long passphrase"


def copy_transfer(source: Path, target: Path, transfer_id: str) -> None:
    """A transfer folder under a new TRANSFER_ID (same files, manifest says the new id)."""
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["transfer_id"] = transfer_id
    manifest["exported_at"] = f"{transfer_id[:4]}-{transfer_id[4:6]}-{transfer_id[6:8]}T02:00:00Z"
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))


def one(client: Client, study: str, rule: str) -> dict:
    (finding,) = client.findings(study=study, site="101", rule=rule, state="")["findings"]
    return finding


def detail(client: Client, fid: str) -> dict:
    status, _, payload = client.get(f"/api/findings/{fid}")
    assert status == 200, payload
    return payload


def snapshot(client: Client, ids: dict[str, str]) -> dict:
    """What the app says about the worked findings: state, reason, and the history (who, from, to)."""
    out = {}
    for name, fid in ids.items():
        d = detail(client, fid)
        out[name] = {
            "status": d["STATUS"],
            "state": (d["STATE"], d["STATE_REASON"]),
            "history": [(e["BY"], e["FROM_STATE"], e["TO_STATE"], e["REASON"]) for e in d["history"]],
        }
    return out


@pytest.fixture(scope="module")
def nights(tmp_path_factory, prefect_harness):
    tmp = tmp_path_factory.mktemp("review-nights")
    full, landing = tmp / "full", tmp / "landing"
    generate(full, seed=5, subjects=4)
    for study in (REGO, SURU):
        shutil.copytree(full / study / "101" / FIRST, landing / study / "101" / FIRST)
    warehouse = tmp / "wh" / "trialdw.duckdb"
    nightly = load_nightly_flow()
    seen = {"warehouse": warehouse}

    nightly(landing=str(landing), warehouse=str(warehouse))
    assert add_user(warehouse, DM, "data-manager", PASSWORD).returncode == 0
    with ReviewServer(warehouse, tmp / "server.log") as server:
        client = Client(server)
        assert client.login(DM, PASSWORD)[0] == 200
        ids = {
            "fixed": one(client, REGO, "codelist")["FINDING_ID"],
            "accepted": one(client, REGO, "whitespace")["FINDING_ID"],
            "acknowledged": one(client, REGO, "mojibake")["FINDING_ID"],
            "answered": one(client, SURU, "codelist")["FINDING_ID"],
        }
        for name, body in (
            ("fixed", {"state": "query_raised", "comment": "AESER value?", "query_ref": "EDC-1"}),
            ("accepted", {"state": "closed", "reason": "accepted_as_is", "comment": "site: the term is as written"}),
            ("acknowledged", {"state": "acknowledged"}),
            ("answered", {"state": "answered", "comment": "site replied by phone"}),
        ):
            status, _, payload = client.annotate(ids[name], **body)
            assert status == 201, payload
        seen["ids"] = ids
        seen["night1"] = snapshot(client, ids)

        shutil.copytree(full / REGO / "101" / SECOND, landing / REGO / "101" / SECOND)
        seen["run2"] = nightly(landing=str(landing), warehouse=str(warehouse))
        seen["night2"] = snapshot(client, ids)  # the same server process, the new file
        seen["night2_orphans"] = client.findings(study=REGO, rule="orphan_subject", state="")

        copy_transfer(full / REGO / "101" / FIRST, landing / REGO / "101" / THIRD, THIRD)
        seen["run3"] = nightly(landing=str(landing), warehouse=str(warehouse))
        seen["night3"] = snapshot(client, ids)
        seen["night3_orphans"] = client.findings(study=REGO, rule="orphan_subject", state="")
    return seen


def test_the_data_managers_states_survive_every_night(nights):
    for night in ("night1", "night2", "night3"):
        states = nights[night]
        assert states["acknowledged"]["state"] == ("acknowledged", None), night
        assert states["answered"]["state"] == ("answered", None), night
        assert states["accepted"]["state"] == ("closed", "accepted_as_is"), night  # persists, stays closed
        assert states["accepted"]["status"] == "open", night
        assert states["acknowledged"]["history"] == [(DM, "new", "acknowledged", None)], night


def test_a_finding_the_data_resolved_is_closed_by_the_night_and_reopened_when_it_comes_back(nights):
    assert nights["night1"]["fixed"]["state"] == ("query_raised", None)
    assert nights["night2"]["fixed"]["status"] == "resolved"
    assert nights["night2"]["fixed"]["state"] == ("closed", "resolved_by_data")
    assert nights["night3"]["fixed"]["status"] == "open"
    assert nights["night3"]["fixed"]["state"] == ("new", None)
    assert nights["night3"]["fixed"]["history"] == [
        (DM, "new", "query_raised", None),
        ("trialdw-nightly", "query_raised", "closed", "resolved_by_data"),
        ("trialdw-nightly", "closed", "new", None),
    ]
    # The same for findings nobody touched: the orphans of the first transfer.
    assert {f["STATE"] for f in nights["night2_orphans"]["findings"]} == {"closed"}
    assert {f["STATE"] for f in nights["night3_orphans"]["findings"]} == {"new"}
    assert nights["night3_orphans"]["total"] == nights["night2_orphans"]["total"] > 0


def test_the_published_warehouse_and_the_nights_files_carry_the_states(nights):
    warehouse, ids = nights["warehouse"], nights["ids"]
    with wh.connect_read_only(warehouse) as con:
        entries = con.execute(
            'SELECT "BY", FROM_STATE, TO_STATE, REASON, QUERY_REF, RUN_ID FROM audit.finding_annotations '
            "WHERE FINDING_ID = ? ORDER BY ENTRY_ID",
            [ids["fixed"]],
        ).fetchall()
        runs = [r[0] for r in con.execute("SELECT RUN_ID FROM audit.runs ORDER BY STARTED_AT").fetchall()]
        states = dict(
            con.execute(
                "SELECT FINDING_ID, STATE || coalesce('/' || STATE_REASON, '') FROM audit.findings "
                "WHERE FINDING_ID IN (SELECT unnest(?))",
                [list(ids.values())],
            ).fetchall()
        )
    assert entries == [
        (DM, "new", "query_raised", None, "EDC-1", None),
        ("trialdw-nightly", "query_raised", "closed", "resolved_by_data", None, runs[1]),
        ("trialdw-nightly", "closed", "new", None, None, runs[2]),
    ]
    assert states == {
        ids["fixed"]: "new",
        ids["accepted"]: "closed/accepted_as_is",
        ids["acknowledged"]: "acknowledged",
        ids["answered"]: "answered",
    }
    reports = wh.WarehousePaths(warehouse).reports
    with open(reports / "findings.csv", encoding="utf-8-sig", newline="") as fh:
        rows = {r["FINDING_ID"]: r for r in csv.DictReader(fh)}
    assert (rows[ids["accepted"]]["STATE"], rows[ids["accepted"]]["STATE_REASON"]) == ("closed", "accepted_as_is")
    assert (rows[ids["fixed"]]["STATE"], rows[ids["fixed"]]["QUERY_REF"]) == ("new", "EDC-1")
    assert (reports / "findings.xlsx").stat().st_size > 0
    page = (reports / "review.html").read_text(encoding="utf-8")
    assert '<span class="state state-closed">closed · accepted as is</span>' in page
    assert f'id="run-name">{runs[2]}<' in (reports / "data-docs" / "index.html").read_text(encoding="utf-8")
