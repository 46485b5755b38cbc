"""The whole night on real components: synth CSVs on disk → real Prefect flow run
(prefect_test_harness) → pandera → DuckDB → real dbt build → lifelines → GX →
atomic publish. Derivation values are hand-checked in the dbt/endpoint tests;
here we check that the chain delivers every table, loses nothing and agrees
with itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trialdw import warehouse as wh
from trialdw.cli import load_nightly_flow
from trialdw.synth import generate

pytestmark = pytest.mark.slow

SPEC_TABLES = {
    "adam": ["adsl", "adrs", "adtte", "adae", "adcp"],
    "analysis": ["endpoints", "km_curves", "ae_by_term", "celltype_change", "gene_change"],
    "audit": ["transfers", "reconciliation", "findings"],
}
STUDIES = ("HCC-REGO-PD1", "HCC-SURU-SC")
SINGLE_CELL_ONLY = {"adam.adcp", "analysis.celltype_change", "analysis.gene_change"}


@pytest.fixture(scope="module")
def night(tmp_path_factory, prefect_harness):
    """One synth landing and one nightly run, shared by the module's tests."""
    root = tmp_path_factory.mktemp("night")
    synth = generate(root / "landing", seed=7, subjects=12)
    nightly = load_nightly_flow()
    result = nightly(landing=str(root / "landing"), warehouse=str(root / "wh" / "trialdw.duckdb"))
    return {
        "root": root,
        "synth": synth,
        "result": result,
        "nightly": nightly,
        "warehouse": root / "wh" / "trialdw.duckdb",
    }


def _query(path: Path, sql: str, params=None):
    with wh.connect_read_only(path) as con:
        return con.execute(sql, params or []).fetchall()


def test_every_table_of_the_output_spec_is_filled_for_both_studies(night):
    for schema, tables in SPEC_TABLES.items():
        for table in tables:
            name = f"{schema}.{table}"
            counts = dict(_query(night["warehouse"], f"SELECT STUDYID, count(*) FROM {name} GROUP BY 1"))
            expected = ("HCC-SURU-SC",) if name in SINGLE_CELL_ONLY else STUDIES
            for study in expected:
                assert counts.get(study, 0) > 0, f"{name} has no rows for {study}"


def test_nothing_lost_loaded_plus_quarantined_is_what_the_manifest_said(night):
    manifest_rows = {}
    for transfer in night["synth"].transfers:
        manifest = json.loads((Path(transfer.path) / "manifest.json").read_text())
        for name, entry in manifest["files"].items():
            manifest_rows[(manifest["study"], manifest["site"], manifest["transfer_id"], name[:-4])] = entry["rows"]
    recon = {
        (s, site, t, d): (sent, loaded, quarantined)
        for s, site, t, d, sent, loaded, quarantined in _query(
            night["warehouse"],
            "SELECT STUDYID, SITEID, TRANSFER_ID, DOMAIN, ROWS_SENT, ROWS_LOADED, "
            "ROWS_QUARANTINED FROM audit.reconciliation",
        )
    }
    assert set(recon) == set(manifest_rows)
    for key, (sent, loaded, quarantined) in recon.items():
        assert sent == manifest_rows[key] == loaded + quarantined, key
    assert sum(q for _, _, q in recon.values()) > 0  # the planted defects were quarantined


def test_every_planted_defect_is_a_finding_at_its_file_line_and_column(night):
    # A duplicate-key finding names all key columns ("USUBJID,AESEQ").
    found = {
        (file, line, column)
        for file, line, columns in _query(
            night["warehouse"],
            "SELECT o.SOURCE_FILE, o.SOURCE_LINE, f.COLUMN_NAME FROM audit.finding_occurrences o "
            "JOIN audit.findings f USING (FINDING_ID)",
        )
        for column in columns.split(",")
    }
    row_defects = [d for d in night["synth"].defects if d.category == "row"]
    assert row_defects
    for defect in row_defects:
        assert (defect.file, defect.line, defect.column) in found, defect
    # Data-review defects have no line (cross-record findings): by study, site, subject and rule,
    # and the review category holds exactly them, opened by the latest transfer.
    planted = {
        (d.file.split("/")[0], d.file.split("/")[1], d.usubjid, d.rule)
        for d in night["synth"].defects
        if d.category == "review"
    }
    assert {rule for *_, rule in planted} == {"ovr_vs_recist", "death_date_disagreement"}
    review = _query(
        night["warehouse"],
        "SELECT STUDYID, SITEID, USUBJID, RULE, STATUS, FIRST_SEEN_TRANSFER "
        "FROM audit.findings WHERE CATEGORY = 'review'",
    )
    assert {r[:4] for r in review} == planted and len(review) == len(planted)
    assert {r[4:] for r in review} == {("open", "20261119T020000Z")}


def test_a_defect_fixed_in_the_later_transfer_is_resolved_there(night):
    rows = _query(night["warehouse"], "SELECT STATUS, count(*) FROM audit.findings GROUP BY 1")
    statuses = dict(rows)
    assert statuses.get("open", 0) > 0 and statuses.get("resolved", 0) > 0
    resolved_in = _query(
        night["warehouse"], "SELECT DISTINCT RESOLVED_TRANSFER FROM audit.findings WHERE STATUS = 'resolved'"
    )
    assert resolved_in == [("20261119T020000Z",)]


def test_current_transfer_supersedes_the_earlier_snapshot(night):
    rows = _query(night["warehouse"], "SELECT STUDYID, TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1, 2")
    for study in STUDIES:
        assert [r[1:] for r in rows if r[0] == study] == [
            ("20260720T020000Z", "superseded", None),
            ("20261119T020000Z", "accepted", "Y"),
        ]


def test_adam_counts_agree_with_what_was_loaded(night):
    path = night["warehouse"]
    # ADSL: one row per DM subject loaded from the current transfers.
    dm = dict(
        _query(
            path,
            "SELECT d._studyid, count(*) FROM raw.dm d JOIN audit.transfers t "
            "ON t.STUDYID = d._studyid AND t.SITEID = d._siteid AND t.TRANSFER_ID = d._transfer_id "
            "WHERE t.CURRENT = 'Y' GROUP BY 1",
        )
    )
    adsl = dict(_query(path, "SELECT STUDYID, count(*) FROM adam.adsl GROUP BY 1"))
    assert adsl == dm
    # Endpoint denominators are the ADSL population counts.
    populations = {
        (s, f): n
        for s, f, n in _query(
            path,
            "SELECT STUDYID, 'EFFFL', count(*) FILTER (EFFFL = 'Y') FROM adam.adsl GROUP BY 1 UNION ALL "
            "SELECT STUDYID, 'ITTFL', count(*) FILTER (ITTFL = 'Y') FROM adam.adsl GROUP BY 1 UNION ALL "
            "SELECT STUDYID, 'SAFFL', count(*) FILTER (SAFFL = 'Y') FROM adam.adsl GROUP BY 1",
        )
    }
    for study, endpoint, population, n in _query(
        path, "SELECT STUDYID, ENDPOINT, POPULATION, N FROM analysis.endpoints"
    ):
        if population != "RSP":
            assert n == populations[(study, population)], (study, endpoint)
    # DOR is analysed in the responders: ORR's numerator.
    orr = dict(_query(path, "SELECT STUDYID, N_EVENTS FROM analysis.endpoints WHERE ENDPOINT = 'ORR'"))
    dor = dict(_query(path, "SELECT STUDYID, N FROM analysis.endpoints WHERE ENDPOINT = 'DOR_MEDIAN'"))
    assert dor == orr


def test_every_study_gets_every_endpoint_row(night):
    rows = _query(
        night["warehouse"], "SELECT STUDYID, count(*), count(DISTINCT ENDPOINT) FROM analysis.endpoints GROUP BY 1"
    )
    assert sorted(rows) == [(s, 19, 19) for s in STUDIES]


def test_run_is_recorded_and_reports_written_beside_the_warehouse(night):
    result = night["result"]
    assert result["warehouse"] == str(night["warehouse"].resolve())
    reports = Path(result["reports"])
    assert (reports / "run-summary.md").read_text().startswith("# trialdw night")
    assert (reports / "data-docs" / "index.html").exists()
    # what people read in the morning, published with the warehouse
    assert "Data review" in (reports / "review.html").read_text()
    assert (reports / "findings.csv").read_text(encoding="utf-8-sig").startswith("FINDING_ID")
    assert result["study_reports"] == str(reports / "study-reports" / "index.html")
    assert {p.name for p in (reports / "study-reports").iterdir()} == {"index.html", *(f"{s}.html" for s in STUDIES)}
    # exports of the published night: Parquet and XPT per study, behind a stable link
    latest = Path(result["exports"])
    assert latest.name == "latest" and latest.is_symlink()
    for study in STUDIES:
        assert (latest / study / "adam" / "adsl.parquet").exists() and (latest / study / "xpt" / "adsl.xpt").exists()
    n_adsl = _query(night["warehouse"], "SELECT count(*) FROM adam.adsl WHERE STUDYID = ?", [STUDIES[0]])[0][0]
    with wh.connect_read_only(night["warehouse"]) as con:
        exported = con.execute(
            "SELECT count(*) FROM read_parquet(?)", [str(latest / STUDIES[0] / "adam" / "adsl.parquet")]
        ).fetchall()[0][0]
    assert exported == n_adsl
    runs = _query(night["warehouse"], "SELECT STATUS, DETAILS FROM audit.runs")
    assert len(runs) == 1 and runs[0][0] == "completed"
    details = json.loads(runs[0][1])
    assert set(details["steps_seconds"]) >= {"prepare", "ingest", "dbt build", "endpoints", "readiness"}
    assert details["contract_versions"]["AE"]
    leftovers = [p.name for p in night["warehouse"].parent.iterdir() if ".building-" in p.name]
    assert leftovers == []


def test_rerun_with_nothing_new_builds_nothing_and_leaves_the_published_file_as_it_was(night):
    before = _query(night["warehouse"], "SELECT * FROM analysis.endpoints ORDER BY STUDYID, ENDPOINT")
    findings_before = _query(night["warehouse"], "SELECT * FROM audit.findings ORDER BY FINDING_ID")
    published_before = night["warehouse"].read_bytes()
    result = night["nightly"](landing=str(night["root"] / "landing"), warehouse=str(night["warehouse"]))
    assert result["transfers_new"] == 0 and result["published"] is False and result["held_back"] == {}
    assert result["news"].startswith("nothing new")
    assert result["studies"] == [f"{s}: unchanged, carried over" for s in STUDIES]
    assert night["warehouse"].read_bytes() == published_before  # not rewritten: nothing changed
    assert _query(night["warehouse"], "SELECT * FROM analysis.endpoints ORDER BY STUDYID, ENDPOINT") == before
    assert _query(night["warehouse"], "SELECT * FROM audit.findings ORDER BY FINDING_ID") == findings_before
    # The run is in the run log now, and in audit.runs from the next published night on.
    log = [json.loads(line) for line in (night["warehouse"].parent / "trialdw-runs.jsonl").read_text().splitlines()]
    assert [e["status"] for e in log if e["event"] == "end"] == ["completed", "completed"]
    assert log[-1]["message"].startswith("nothing new")


def test_exports_that_cannot_be_written_fail_the_night_after_the_warehouse_is_published(tmp_path, prefect_harness):
    """The exports are written from tonight's file before it is published; when they
    fail (here: someone's own folder named latest), the warehouse is published all
    the same (statisticians query it) and the night then fails at the exports, saying why."""
    generate(tmp_path / "landing", seed=11, subjects=4)
    warehouse = tmp_path / "wh" / "trialdw.duckdb"
    latest = tmp_path / "wh" / "trialdw-exports" / "latest"
    latest.mkdir(parents=True)
    with pytest.raises(Exception, match="latest is not a symbolic link: move it away"):
        load_nightly_flow()(landing=str(tmp_path / "landing"), warehouse=str(warehouse))
    assert {s for (s,) in _query(warehouse, "SELECT DISTINCT STUDYID FROM adam.adsl")} == set(STUDIES)
    end = json.loads((warehouse.parent / "trialdw-runs.jsonl").read_text().splitlines()[-1])
    assert (end["status"], end["details"]["failed_step"]) == ("failed", "exports")
    assert "latest is not a symbolic link" in end["message"]
    assert sorted(p.name for p in latest.parent.iterdir()) == ["latest"]  # nothing half-written left
    leftovers = [p.name for p in warehouse.parent.iterdir() if ".building-" in p.name]
    assert leftovers == []


def _resend_latest_transfer(landing: Path, study: str) -> None:
    """The study's first site sends its latest transfer again, later the same day."""
    from tests.helpers.pulls import copy_transfer_as

    site = sorted(p for p in (landing / study).iterdir() if p.is_dir())[0]
    latest = sorted(p for p in site.iterdir() if p.is_dir())[-1]
    copy_transfer_as(latest, latest.name[:8] + "T235959Z")


def test_exports_behind_the_published_warehouse_are_written_again_not_carried(tmp_path, prefect_harness):
    """Night 2 rebuilds REGO and publishes it, then cannot write its exports (a
    folder named latest); the data manager puts the link back, on night 1's
    exports, some of them older than the published tables. Night 3 has nothing
    new: it builds nothing, and writes every study's exports again from the
    published file. Night 4 rebuilds SURU only and carries REGO's from night 3."""
    import os

    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "trialdw.duckdb"
    exports = warehouse.parent / "trialdw-exports"
    generate(landing, seed=11, subjects=4)
    night = load_nightly_flow()

    def run() -> dict:
        return night(landing=str(landing), warehouse=str(warehouse))

    def adsl(run_id: str, study: str) -> Path:
        return exports / run_id / study / "adam" / "adsl.parquet"

    night1 = run()["run_id"]
    _resend_latest_transfer(landing, STUDIES[0])
    (exports / "latest").rename(exports / "latest-of-night-1")
    (exports / "latest").mkdir()
    with pytest.raises(Exception, match="latest is not a symbolic link"):
        run()
    night2 = json.loads((warehouse.parent / "trialdw-runs.jsonl").read_text().splitlines()[-1])["run_id"]
    assert wh.published_by(warehouse) == night2
    (exports / "latest").rmdir()
    (exports / "latest-of-night-1").rename(exports / "latest")

    night3 = run()
    assert night3["news"].startswith("nothing new")
    assert os.readlink(exports / "latest") == night3["run_id"]
    assert (exports / "latest" / "written-from.txt").read_text() == f"{night2}\n"
    for study in STUDIES:  # written from the published file, not links to night 1's
        assert adsl(night3["run_id"], study).stat().st_ino != adsl(night1, study).stat().st_ino

    _resend_latest_transfer(landing, STUDIES[1])
    night4 = run()
    assert night4["studies"][0] == f"{STUDIES[0]}: unchanged, carried over"
    assert night4["studies"][1].startswith(f"{STUDIES[1]}: published (new transfer")
    assert os.readlink(exports / "latest") == night4["run_id"]
    assert adsl(night4["run_id"], STUDIES[0]).stat().st_ino == adsl(night3["run_id"], STUDIES[0]).stat().st_ino
    assert adsl(night4["run_id"], STUDIES[1]).stat().st_ino != adsl(night3["run_id"], STUDIES[1]).stat().st_ino
