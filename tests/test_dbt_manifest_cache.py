"""The parsed project is kept per code version (trialdw.dbt_manifest_cache): the
first night of a new warehouse builds from it without parsing, and any change
to what a parse reads is a new key."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from tests.helpers.dbt_warehouse import RawRows, create_warehouse, one
from trialdw import dbt_manifest_cache
from trialdw.dbt_runner import BUILD_FILE_NAME, DbtSession
from trialdw.project import PROJECT_ROOT

STUDY, SITE, TRANSFER = "HCC-REGO-PD1", "101", "20260801T020000Z"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TRIALDW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "dbt-manifests"


def project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "dbt_project.yml", root)
    shutil.copytree(PROJECT_ROOT / "dbt_project", root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs"))
    return root


def test_key_follows_what_a_parse_reads(tmp_path):
    root = project_copy(tmp_path)
    key = dbt_manifest_cache.manifest_key("warehouse", "", "build", root)
    assert key == dbt_manifest_cache.manifest_key("warehouse", "", "build", root)
    assert key != dbt_manifest_cache.manifest_key("spark", "", "build", root)
    assert key != dbt_manifest_cache.manifest_key("warehouse", "g1_", "build", root)
    assert key != dbt_manifest_cache.manifest_key("warehouse", "", "warehouse", root)  # nodes carry the database
    (root / "dbt_project" / "target").mkdir()
    (root / "dbt_project" / "target" / "run_results.json").write_text("{}")  # dbt's output is not an input
    assert key == dbt_manifest_cache.manifest_key("warehouse", "", "build", root)
    model = next((root / "dbt_project" / "models").rglob("adsl.sql"))
    model.write_text(model.read_text() + "\n-- changed\n")
    assert key != dbt_manifest_cache.manifest_key("warehouse", "", "build", root)


def test_unreadable_entry_is_a_miss_not_an_error(cache):
    cache.mkdir(parents=True)
    (cache / "0123.pickle").write_bytes(b"not a pickle")
    assert dbt_manifest_cache.load("0123") is None
    assert dbt_manifest_cache.load("absent") is None


def warehouse(folder: Path) -> Path:
    rows = RawRows(TRANSFER)
    rows.dm(f"{STUDY}-{SITE}-001", "2026-01-02", "2026-01-05")
    rows.ex(f"{STUDY}-{SITE}-001", 1, "2026-01-10", "2026-02-10", extrt="REGORAFENIB")
    folder.mkdir(parents=True)
    db = folder / BUILD_FILE_NAME
    create_warehouse(db, rows.rows, [(STUDY, SITE, TRANSFER, True)])
    return db


@pytest.mark.slow
def test_second_warehouse_builds_from_the_kept_manifest_without_parsing(tmp_path, cache):
    first = DbtSession(tmp_path / "state-1")
    assert first.build(warehouse(tmp_path / "a"), nightly=True).success
    assert len(list(cache.glob("*.pickle"))) == 1
    assert (tmp_path / "state-1" / "target" / "partial_parse.msgpack").is_file()  # dbt parsed here

    second = DbtSession(tmp_path / "state-2")
    db = warehouse(tmp_path / "b")
    result = second.build(db, nightly=True)
    assert result.success, result.failures
    assert not (tmp_path / "state-2" / "target" / "partial_parse.msgpack").exists()  # no parse: the kept one
    assert result.models_built == 63
    assert one(db, "SELECT USUBJID, TRTSDT, TRTEDT FROM adam.adsl") == (
        f"{STUDY}-{SITE}-001",
        dt.date(2026, 1, 10),
        dt.date(2026, 2, 10),
    )
