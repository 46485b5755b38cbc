"""write_exports on a small real DuckDB file: read the Parquet and XPT back.

Study S1 has two subjects, S2 one, S3 is configured with no data yet. Labels
come from a small dbt yml written in the test (the real adam yml is checked
separately), so these tests do not change when dbt descriptions are edited.
"""

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

from trialdw.exports import (
    ADAM_MODELS_DIR,
    ExportError,
    adam_labels,
    discard_exports,
    finish_exports,
    write_exports,
    xpt_label,
)

RUN1, RUN2, RUN3, RUN4 = (f"20261121T0{i}0000Z-abc12{i}" for i in range(1, 5))

MODELS_YML = """
version: 2
models:
  - name: adsl
    description: Subject-level analysis dataset, one row per subject (see docs).
    columns:
      - {name: USUBJID, meta: {label: Unique Subject Identifier}}
      - {name: AGE, description: Age in years at consent.}
      - {name: TRTSDT, description: "First EXSTDTC; NULL if never dosed."}
  - name: adae
    columns:
      - {name: AETERM, description: Reported term for the adverse event.}
"""


def _build(path: Path, extra_sql: str = "") -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            CREATE SCHEMA config; CREATE SCHEMA adam; CREATE SCHEMA analysis;
            CREATE TABLE config.studies (STUDYID VARCHAR, TITLE VARCHAR);
            INSERT INTO config.studies VALUES ('S1', 'One'), ('S2', 'Two'), ('S3', 'Three, no data yet');
            CREATE TABLE adam.adsl (STUDYID VARCHAR, USUBJID VARCHAR, AGE INTEGER, AFPBL DOUBLE,
                                    TRTSDT DATE, DTHDT DATE, SAFFL VARCHAR);
            INSERT INTO adam.adsl VALUES
                ('S1', 'S1-001', 64, 12.5, DATE '2026-01-05', NULL, 'Y'),
                ('S1', 'S1-002', 71, NULL, NULL, DATE '1959-12-31', 'N'),
                ('S2', 'S2-001', 55, 400.25, DATE '1960-01-01', NULL, 'Y');
            CREATE TABLE adam.adae (STUDYID VARCHAR, USUBJID VARCHAR, AESEQ INTEGER, AETERM VARCHAR);
            INSERT INTO adam.adae VALUES ('S1', 'S1-001', 1, 'Fever ≥ grade 2'),
                                         ('S2', 'S2-001', 1, 'HEADACHE');
            CREATE TABLE analysis.endpoints (STUDYID VARCHAR, ENDPOINT VARCHAR, N BIGINT, ESTIMATE DOUBLE);
            INSERT INTO analysis.endpoints VALUES ('S1', 'ORR', 2, 0.5), ('S2', 'ORR', 1, 1.0),
                                                  ('S3', 'ORR', 0, NULL);
        """
            + extra_sql
        )
    return path


@pytest.fixture
def warehouse(tmp_path):
    return _build(tmp_path / "trialdw.duckdb")


@pytest.fixture
def models_dir(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "adam.yml").write_text(MODELS_YML, encoding="utf-8")
    return folder


def _export(warehouse, tmp_path, models_dir, run_id=RUN1, **kwargs):
    return write_exports(warehouse, tmp_path / "exports", run_id, models_dir=models_dir, **kwargs)


def test_parquet_per_study_holds_that_studys_rows_with_types(warehouse, tmp_path, models_dir):
    summary = _export(warehouse, tmp_path, models_dir)
    root = tmp_path / "exports" / RUN1
    assert summary.studies == ("S1", "S2", "S3")
    assert summary.rows["S1/adam/adsl"] == 2 and summary.rows["S2/adam/adsl"] == 1
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT * FROM read_parquet('{root}/S1/adam/adsl.parquet') ORDER BY USUBJID").fetchall()
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{root}/S1/adam/adsl.parquet')").fetchall()
        types = {row[0]: row[1] for row in described}
        endpoints = con.execute(f"SELECT * FROM read_parquet('{root}/S2/analysis/endpoints.parquet')").fetchall()
    assert rows == [
        ("S1", "S1-001", 64, 12.5, dt.date(2026, 1, 5), None, "Y"),
        ("S1", "S1-002", 71, None, None, dt.date(1959, 12, 31), "N"),
    ]
    assert types["TRTSDT"] == "DATE" and types["AGE"] == "INTEGER"
    assert endpoints == [("S2", "ORR", 1, 1.0)]


def test_configured_study_without_data_gets_every_file_empty(warehouse, tmp_path, models_dir):
    _export(warehouse, tmp_path, models_dir)
    s3 = tmp_path / "exports" / RUN1 / "S3"
    assert sorted(p.relative_to(s3).as_posix() for p in s3.rglob("*") if p.is_file()) == [
        "adam/adae.parquet",
        "adam/adsl.parquet",
        "analysis/endpoints.parquet",
        "datasetjson/adae.json",
        "datasetjson/adsl.json",
        "define/define.html",
        "define/define.xml",
        "xpt/adae.xpt",
        "xpt/adsl.xpt",
    ]
    import pyreadstat

    frame, meta = pyreadstat.read_xport(s3 / "xpt" / "adsl.xpt")
    assert meta.number_rows == 0 and list(frame.columns) == [
        "STUDYID",
        "USUBJID",
        "AGE",
        "AFPBL",
        "TRTSDT",
        "DTHDT",
        "SAFFL",
    ]
    with duckdb.connect() as con:
        assert con.execute(f"SELECT ENDPOINT, N, ESTIMATE FROM '{s3}/analysis/endpoints.parquet'").fetchall() == [
            ("ORR", 0, None)
        ]


def test_xpt_reads_back_with_names_labels_and_sas_dates(warehouse, tmp_path, models_dir):
    import pyreadstat

    summary = _export(warehouse, tmp_path, models_dir)
    path = tmp_path / "exports" / "latest" / "S1" / "xpt" / "adsl.xpt"
    frame, meta = pyreadstat.read_xport(path)
    assert meta.table_name == "ADSL"
    assert meta.file_label == "Subject-level analysis dataset"  # first clause of the model description
    assert meta.column_names_to_labels == {
        "STUDYID": None,
        "USUBJID": "Unique Subject Identifier",  # meta.label wins
        "AGE": "Age in years at consent",
        "AFPBL": None,
        "TRTSDT": "First EXSTDTC",
        "DTHDT": None,
        "SAFFL": None,
    }
    assert meta.original_variable_types["TRTSDT"] == "DATE9"
    assert meta.original_variable_types["DTHDT"] == "DATE9"
    assert frame["USUBJID"].tolist() == ["S1-001", "S1-002"]
    assert frame["AGE"].tolist() == [64.0, 71.0]
    assert frame["AFPBL"].iloc[0] == 12.5 and frame["AFPBL"].isna().iloc[1]
    assert frame["TRTSDT"].iloc[0] == dt.date(2026, 1, 5)
    assert frame["DTHDT"].iloc[1] == dt.date(1959, 12, 31)
    # Stored as SAS day numbers: 2026-01-05 is 66 years (17 leap days) + 4 days
    # after 1960-01-01 = 24111; 1959-12-31 is day -1; a missing date is SAS missing.
    raw, _ = pyreadstat.read_xport(path, disable_datetime_conversion=True)
    assert raw["TRTSDT"].iloc[0] == 24111.0 and raw["TRTSDT"].isna().iloc[1]
    assert raw["DTHDT"].iloc[1] == -1.0
    s2, _ = pyreadstat.read_xport(
        tmp_path / "exports" / "latest" / "S2" / "xpt" / "adsl.xpt", disable_datetime_conversion=True
    )
    assert s2["TRTSDT"].tolist() == [0.0]  # 1960-01-01 = day 0
    assert "ADSL.STUDYID" in summary.unlabelled and "ADSL.AGE" not in summary.unlabelled


def test_non_ascii_text_is_kept_as_utf8_and_reported(warehouse, tmp_path, models_dir):
    import pyreadstat

    summary = _export(warehouse, tmp_path, models_dir)
    frame, meta = pyreadstat.read_xport(tmp_path / "exports" / RUN1 / "S1" / "xpt" / "adae.xpt")
    assert frame["AETERM"].tolist() == ["Fever ≥ grade 2"]
    assert meta.column_names_to_labels["AETERM"] == "Reported term for the adverse event"
    assert summary.non_ascii == ["S1/ADAE.AETERM"]  # S2's HEADACHE is ASCII


def test_character_value_of_exactly_200_bytes_is_written(tmp_path, models_dir):
    db = _build(tmp_path / "wh.duckdb", f"INSERT INTO adam.adae VALUES ('S1', 'S1-002', 2, '{'A' * 200}');")
    import pyreadstat

    write_exports(db, tmp_path / "exports", RUN1, models_dir=models_dir)
    frame, _ = pyreadstat.read_xport(tmp_path / "exports" / RUN1 / "S1" / "xpt" / "adae.xpt")
    assert frame["AETERM"].tolist() == ["Fever ≥ grade 2", "A" * 200]


def test_too_long_value_fails_and_leaves_latest_and_older_runs_alone(warehouse, tmp_path, models_dir):
    _export(warehouse, tmp_path, models_dir, RUN1)
    with duckdb.connect(str(warehouse)) as con:
        # 199 ASCII characters + '≥' (3 bytes in UTF-8) = 202 bytes > 200.
        con.execute(f"INSERT INTO adam.adae VALUES ('S2', 'S2-001', 2, '{'B' * 199}≥')")
    with pytest.raises(ExportError, match=r"S2 ADAE.AETERM: 1 value\(s\) longer than 200 bytes"):
        _export(warehouse, tmp_path, models_dir, RUN2)
    out = tmp_path / "exports"
    assert os.readlink(out / "latest") == RUN1
    assert sorted(p.name for p in out.iterdir()) == [RUN1, "latest"]  # no partial folder left


def test_names_not_valid_in_xpt_v5_fail_loudly(tmp_path, models_dir):
    db = _build(
        tmp_path / "wh.duckdb",
        "ALTER TABLE adam.adsl ADD COLUMN TRTSDTM_LONG DATE;CREATE TABLE adam.adtte_extra (STUDYID VARCHAR);",
    )
    with pytest.raises(ExportError) as failure:
        write_exports(db, tmp_path / "exports", RUN1, models_dir=models_dir)
    assert "adam.adsl: 'TRTSDTM_LONG'" in str(failure.value)
    assert "adam.adtte_extra: 'ADTTE_EXTRA'" in str(failure.value)
    assert not (tmp_path / "exports" / "latest").exists()


def test_latest_moves_to_each_run_and_only_the_newest_n_are_kept(warehouse, tmp_path, models_dir):
    out = tmp_path / "exports"
    removed = []
    for run in (RUN1, RUN2, RUN3, RUN4):
        summary = _export(warehouse, tmp_path, models_dir, run, keep=2)
        removed += summary.removed
        assert os.readlink(out / "latest") == run  # relative link
        assert (out / "latest" / "S1" / "adam" / "adsl.parquet").is_file()
    assert sorted(p.name for p in out.iterdir()) == [RUN3, RUN4, "latest"]
    assert [p.name for p in removed] == [RUN1, RUN2]


def test_a_run_id_already_exported_is_refused(warehouse, tmp_path, models_dir):
    _export(warehouse, tmp_path, models_dir, RUN1)
    with pytest.raises(ExportError, match="already exists"):
        _export(warehouse, tmp_path, models_dir, RUN1)
    with pytest.raises(ExportError, match="not usable as a folder name"):
        _export(warehouse, tmp_path, models_dir, "../escape")


def test_a_latest_that_is_not_a_link_is_refused_and_left_as_it_is(warehouse, tmp_path, models_dir):
    """Someone's own folder named latest (a copy, an older layout): never replaced, and
    refused before anything is written, so a retry of the night meets the same clear finding."""
    out = tmp_path / "exports"
    (out / "latest").mkdir(parents=True)
    (out / "latest" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ExportError, match="latest is not a symbolic link: move it away"):
        _export(warehouse, tmp_path, models_dir, RUN1)
    assert sorted(p.name for p in out.iterdir()) == ["latest"]  # no run folder, no partial one
    assert (out / "latest" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_exports_written_before_publishing_stay_hidden_until_finished(warehouse, tmp_path, models_dir):
    """The night writes its exports from the file it is about to publish: until that
    file is published, no run folder shows them and latest stays on last night's."""
    out = tmp_path / "exports"
    _export(warehouse, tmp_path, models_dir, RUN1)
    summary = _export(warehouse, tmp_path, models_dir, RUN2, finish=False)
    assert summary.run_folder == out / RUN2 and summary.files[0].is_relative_to(out / RUN2)
    assert sorted(p.name for p in out.iterdir()) == [f".{RUN2}.ready", RUN1, "latest"]
    assert os.readlink(out / "latest") == RUN1
    (out / f".{RUN3}.partial").mkdir()  # left by a night killed while it wrote its exports
    (out / f".{RUN3}.ready").mkdir()  # left by a night killed before it published
    assert finish_exports(out, RUN2, keep=7) == []
    assert sorted(p.name for p in out.iterdir()) == [RUN1, RUN2, "latest"]
    assert os.readlink(out / "latest") == RUN2
    assert set(summary.files) == {p for p in (out / RUN2).rglob("*") if p.is_file()}
    finish_exports(out, RUN2, keep=1)  # a retry finishes what is left: here, the keeping
    assert sorted(p.name for p in out.iterdir()) == [RUN2, "latest"]


def test_studies_are_carried_only_from_the_exports_of_the_published_warehouse(warehouse, tmp_path, models_dir):
    """Studies not rebuilt keep the files of latest's run, when that run wrote the
    warehouse published before this one. RUN2 published (rebuilt S1) and could not
    finish its exports, so latest still shows RUN1's: S1's files there are older
    than its tables, and RUN3 writes every study again, saying why."""
    exports = tmp_path / "exports"
    _export(warehouse, tmp_path, models_dir, RUN1)
    after_run1 = _export(warehouse, tmp_path, models_dir, RUN2, changed={"S2"}, published_by=RUN1)
    assert after_run1.carried == ["S1", "S3"] and after_run1.not_carried is None
    linked = exports / RUN2 / "S1" / "adam" / "adsl.parquet"
    assert linked.stat().st_ino == (exports / RUN1 / "S1" / "adam" / "adsl.parquet").stat().st_ino
    (exports / "latest").unlink()
    os.symlink(RUN1, exports / "latest")  # as if RUN2's exports had never been finished
    behind = _export(warehouse, tmp_path, models_dir, RUN3, changed={"S2"}, published_by=RUN2)
    assert behind.carried == []
    assert behind.not_carried == (
        f"latest holds exports of the warehouse of run {RUN1}, the published one was written by run {RUN2}: "
        "every study is written again"
    )
    written = exports / RUN3 / "S1" / "adam" / "adsl.parquet"
    assert written.stat().st_ino != (exports / RUN1 / "S1" / "adam" / "adsl.parquet").stat().st_ino
    assert written.read_bytes() == linked.read_bytes()  # the same tables here, written afresh
    assert _export(warehouse, tmp_path, models_dir, RUN4, changed={"S2"}).carried == []  # nothing said: nothing carried


def test_exports_of_a_night_that_did_not_publish_are_discarded(warehouse, tmp_path, models_dir):
    out = tmp_path / "exports"
    _export(warehouse, tmp_path, models_dir, RUN1)
    _export(warehouse, tmp_path, models_dir, RUN2, finish=False)
    discard_exports(out, RUN2)
    assert sorted(p.name for p in out.iterdir()) == [RUN1, "latest"]
    with pytest.raises(ExportError, match=f"no exports of run {RUN2} to finish"):
        finish_exports(out, RUN2)
    assert os.readlink(out / "latest") == RUN1


@pytest.mark.parametrize(
    ("description", "label"),
    [
        ("Age in years at consent.", "Age in years at consent"),
        ("Baseline AFP: last AFP result on or before TRTSDT.", "Baseline AFP"),
        ("OVR: why the CR marker rule changed the response.", "OVR: why the CR marker rule changed the"),
        ("Analysis end date (imputed, never after DTHDT); NULL = ongoing.", "Analysis end date"),
        ("Adverse events analysis dataset, one row per AE (rules elsewhere).", "Adverse events analysis dataset"),
        ("Latest coalesce(EXENDTC, EXSTDTC) over EX rows of the subject", "Latest coalesce(EXENDTC, EXSTDTC) over"),
        (None, None),
        ("  ", None),
    ],
)
def test_xpt_label_is_the_first_clause_within_40_characters(description, label):
    assert xpt_label(description) == label
    assert label is None or len(label) <= 40


def test_real_adam_yml_gives_labels_of_at_most_40_characters():
    labels = adam_labels(ADAM_MODELS_DIR)
    assert {"adsl", "adrs", "adtte", "adae"} <= set(labels)
    # meta.label (CDISC standard label) wins over the description.
    assert labels["adsl"][1]["AGE"] == "Age"
    assert labels["adsl"][1]["TRTSDT"] == "Date of First Exposure to Treatment"
    assert all(len(text) <= 40 for _, columns in labels.values() for text in columns.values())
    # every adam variable carries a label (XPT readers show it in place of the name)
    import yaml

    for path in ADAM_MODELS_DIR.glob("*.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            assert {c["name"] for c in model["columns"]} == set(labels[model["name"]][1]), model["name"]
