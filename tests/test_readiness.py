"""Analysis-readiness checkpoint: real DuckDB warehouses in tmp_path, real GX.

Two small hand-made adam sets: a clean one (two studies; only the single-cell
study has adcp rows, adgf is empty) and the same set with three planted
problems. Every expected count below is worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import duckdb
import pytest

from tests.browser import HeadlessChromium, chromium_path
from trialdw.readiness import (
    DEFAULT_CONTRACT,
    ReadinessContractError,
    describe_rule,
    load_contract,
    run_readiness_checks,
)
from trialdw.study_config import load_studies, write_config_tables

D = dt.date.fromisoformat
REGO1, REGO2, SURU1 = "HCC-REGO-PD1-101-001", "HCC-REGO-PD1-101-002", "HCC-SURU-SC-201-001"

# Column layouts from docs/architecture.md ("adam columns").
ADAM_DDL = {
    "adsl": """STUDYID VARCHAR, USUBJID VARCHAR, SUBJID VARCHAR, SITEID VARCHAR, AGE INTEGER,
        SEX VARCHAR, RACE VARCHAR, ETHNIC VARCHAR, COUNTRY VARCHAR, ARM VARCHAR, ARMCD VARCHAR,
        TRT01P VARCHAR, TRT01A VARCHAR, ECOG VARCHAR, CHILDPGH VARCHAR, BCLC VARCHAR,
        ETIOLOGY VARCHAR, PRIORSYS VARCHAR, MVI VARCHAR, EHS VARCHAR, AFPBL DOUBLE,
        RFICDT DATE, ENRLDT DATE, TRTSDT DATE, TRTEDT DATE, DTHDT DATE, DTHFL VARCHAR,
        LSTALVDT DATE, EOTSTT VARCHAR, DCTREAS VARCHAR, ITTFL VARCHAR, SAFFL VARCHAR, EFFFL VARCHAR""",
    "adrs": """STUDYID VARCHAR, USUBJID VARCHAR, PARAMCD VARCHAR, PARAM VARCHAR, AVALC VARCHAR,
        AVAL DOUBLE, ADT DATE, ADY INTEGER, VISIT VARCHAR, VISITNUM DOUBLE, ANL01FL VARCHAR,
        ORRESP VARCHAR, MRKREAS VARCHAR""",
    "adtte": """STUDYID VARCHAR, USUBJID VARCHAR, PARAMCD VARCHAR, PARAM VARCHAR, STARTDT DATE,
        ADT DATE, AVAL DOUBLE, CNSR INTEGER, EVNTDESC VARCHAR, CNSDTDSC VARCHAR,
        SRCDOM VARCHAR, SRCVAR VARCHAR""",
    "adae": """STUDYID VARCHAR, USUBJID VARCHAR, AESEQ INTEGER, AETERM VARCHAR, AEDECOD VARCHAR,
        AEBODSYS VARCHAR, ASTDT DATE, ASTDTF VARCHAR, AENDT DATE, AENDTF VARCHAR,
        ASTDY INTEGER, AENDY INTEGER, ADURN INTEGER, ATOXGR INTEGER, AESER VARCHAR,
        AEREL VARCHAR, AEOUT VARCHAR, AEACN VARCHAR, TRTEMFL VARCHAR, ADRFL VARCHAR""",
    "adcp": """STUDYID VARCHAR, USUBJID VARCHAR, CPREFID VARCHAR, VISIT VARCHAR, VISITNUM DOUBLE,
        ADT DATE, PARAMCD VARCHAR, PARAM VARCHAR, CELLS INTEGER, TOTCELLS INTEGER,
        AVAL DOUBLE, BASE DOUBLE, CHG DOUBLE, ABLFL VARCHAR""",
    "adgf": """STUDYID VARCHAR, USUBJID VARCHAR, GFREFID VARCHAR, VISIT VARCHAR, VISITNUM DOUBLE,
        ADT DATE, CELLTYPE VARCHAR, GENE VARCHAR, AVAL DOUBLE, BASE DOUBLE, CHG DOUBLE,
        ABLFL VARCHAR""",
}


def _adsl(study, usubjid, age, rficdt, enrldt, trtsdt, trtedt, dthdt, lstalvdt, efffl):
    return {
        "STUDYID": study,
        "USUBJID": usubjid,
        "SUBJID": usubjid[-3:],
        "SITEID": usubjid.split("-")[-2],
        "AGE": age,
        "SEX": "M",
        "RFICDT": D(rficdt),
        "ENRLDT": D(enrldt),
        "TRTSDT": D(trtsdt),
        "TRTEDT": D(trtedt),
        "DTHDT": D(dthdt) if dthdt else None,
        "DTHFL": "Y" if dthdt else None,
        "LSTALVDT": D(lstalvdt),
        "ITTFL": "Y",
        "SAFFL": "Y",
        "EFFFL": efffl,
    }


def _tte(study, usubjid, paramcd, startdt, adt, cnsr, why):
    days = (D(adt) - D(startdt)).days + 1  # AVAL = ADT - STARTDT + 1
    return {
        "STUDYID": study,
        "USUBJID": usubjid,
        "PARAMCD": paramcd,
        "STARTDT": D(startdt),
        "ADT": D(adt),
        "AVAL": days,
        "CNSR": cnsr,
        "EVNTDESC": why,
        "CNSDTDSC": why if cnsr == 1 else None,
    }


def _cp(sample, visit, cell_type, cells, total, base):
    aval = cells / total
    return {
        "STUDYID": "HCC-SURU-SC",
        "USUBJID": SURU1,
        "CPREFID": sample,
        "VISIT": visit,
        "VISITNUM": 0 if visit == "BASELINE" else 2,
        "PARAMCD": cell_type,
        "CELLS": cells,
        "TOTCELLS": total,
        "AVAL": aval,
        "BASE": base,
        "CHG": None if visit == "BASELINE" else aval - base,
        "ABLFL": "Y" if visit == "BASELINE" else None,
    }


def clean_tables() -> dict[str, list[dict]]:
    adsl = [
        _adsl(
            "HCC-REGO-PD1", REGO1, 61, "2025-01-02", "2025-01-05", "2025-01-06", "2025-04-30", None, "2025-06-30", "Y"
        ),
        _adsl(
            "HCC-REGO-PD1",
            REGO2,
            70,
            "2025-02-01",
            "2025-02-03",
            "2025-02-04",
            "2025-03-15",
            "2025-05-10",
            "2025-05-01",
            "N",
        ),
        _adsl(
            "HCC-SURU-SC", SURU1, 55, "2025-03-01", "2025-03-03", "2025-03-04", "2025-06-01", None, "2025-07-01", "Y"
        ),
    ]
    adtte = [
        _tte("HCC-REGO-PD1", REGO1, "OS", "2025-01-05", "2025-06-30", 1, "LAST KNOWN ALIVE"),
        _tte("HCC-REGO-PD1", REGO1, "PFS", "2025-01-06", "2025-03-20", 0, "PROGRESSIVE DISEASE"),
        _tte("HCC-REGO-PD1", REGO2, "OS", "2025-02-03", "2025-05-10", 0, "DEATH"),
        _tte("HCC-SURU-SC", SURU1, "OS", "2025-03-03", "2025-07-01", 1, "LAST KNOWN ALIVE"),
    ]
    rs = {"STUDYID": "HCC-REGO-PD1", "USUBJID": REGO1}
    adrs = [
        # The screening scan precedes TRTSDT and is not flagged for analysis.
        {**rs, "PARAMCD": "OVR", "AVALC": "SD", "ADT": D("2024-12-30"), "ADY": -7, "ANL01FL": None},
        {**rs, "PARAMCD": "OVR", "AVALC": "PR", "ADT": D("2025-02-17"), "ADY": 43, "ANL01FL": "Y"},
        {**rs, "PARAMCD": "OVR", "AVALC": "PD", "ADT": D("2025-03-20"), "ADY": 74, "ANL01FL": "Y"},
        {**rs, "PARAMCD": "BOR", "AVALC": "PR", "ADT": D("2025-02-17"), "ADY": 43, "ANL01FL": "Y"},
        # The PR was not confirmed (PD next), so CBOR is SD: worse than BOR, as it may be.
        {**rs, "PARAMCD": "CBOR", "AVALC": "SD", "ADT": D("2025-02-17"), "ADY": 43, "ANL01FL": "Y"},
    ]
    adae = [
        {
            "STUDYID": "HCC-REGO-PD1",
            "USUBJID": REGO1,
            "AESEQ": 1,
            "AEDECOD": "HYPERTENSION",
            "ASTDT": D("2025-01-20"),
            "AENDT": D("2025-01-30"),
            "ASTDY": 15,
            "ADURN": 11,
            "ATOXGR": 2,
        },
        # Ends on the death date: allowed.
        {
            "STUDYID": "HCC-REGO-PD1",
            "USUBJID": REGO2,
            "AESEQ": 1,
            "AEDECOD": "HEPATIC FAILURE",
            "ASTDT": D("2025-05-01"),
            "AENDT": D("2025-05-10"),
            "ASTDY": 87,
            "ADURN": 10,
            "ATOXGR": 5,
            "AEOUT": "FATAL",
        },
    ]
    # One single-cell subject, a baseline and an on-treatment sample of 3 cell
    # types. 100/120/80 of 300 cells gives proportions whose float sum is
    # 1 only within rounding: the tolerance is exercised, not bypassed.
    adcp = [
        _cp("S1", "BASELINE", "TUMOR", 50, 100, 0.5),
        _cp("S1", "BASELINE", "TCELL", 30, 100, 0.3),
        _cp("S1", "BASELINE", "MACRO", 20, 100, 0.2),
        _cp("S2", "ON TREATMENT", "TUMOR", 100, 300, 0.5),
        _cp("S2", "ON TREATMENT", "TCELL", 120, 300, 0.3),
        _cp("S2", "ON TREATMENT", "MACRO", 80, 300, 0.2),
    ]
    return {"adsl": adsl, "adtte": adtte, "adrs": adrs, "adae": adae, "adcp": adcp, "adgf": []}


def planted_tables() -> dict[str, list[dict]]:
    tables = clean_tables()
    tables["adtte"][1]["AVAL"] = 0  # REGO1 PFS: AVAL 0 (dates say 74)
    tables["adae"][0]["AENDT"] = D("2025-01-10")  # REGO1 AE 1 ends 10 days before it starts
    tables["adcp"][4]["AVAL"] = 0.5  # S2 TCELL 120/300 = 0.4, written as 0.5:
    tables["adcp"][4]["CHG"] = 0.5 - 0.3  # S2 now sums to 1.1 (CHG kept consistent)
    return tables


def build_warehouse(path: Path, tables: dict[str, list[dict]]) -> Path:
    con = duckdb.connect(str(path))
    try:
        write_config_tables(con, load_studies())  # adrs's reference date comes from config.studies
        con.execute("CREATE SCHEMA adam")
        for table, ddl in ADAM_DDL.items():
            if table not in tables:
                continue
            con.execute(f"CREATE TABLE adam.{table} ({ddl})")
            columns = [c.split()[0] for c in " ".join(ddl.split()).split(", ")]
            for row in tables[table]:
                con.execute(
                    f"INSERT INTO adam.{table} VALUES ({', '.join('?' * len(columns))})", [row.get(c) for c in columns]
                )
    finally:
        con.close()
    return path


def test_clean_warehouse_passes_and_builds_data_docs(tmp_path):
    db = build_warehouse(tmp_path / "warehouse.duckdb", clean_tables())
    started = time.perf_counter()
    result = run_readiness_checks(db, tmp_path / "docs")
    print(f"readiness run: {time.perf_counter() - started:.1f} s, {result.statistics['seconds']}")

    assert result.failures == []
    assert result.success is True
    assert result.docs_index == (tmp_path / "docs" / "index.html").resolve()
    index = result.docs_index.read_text(encoding="utf-8")
    for suite in ("adam.adsl", "adam.adtte", "adam.adrs", "adam.adae", "adam.adcp", "adam.adgf"):
        assert suite in index
    stats = result.statistics
    assert stats["tables"]["adsl"] == {"rows": 3, "expectations": 8, "failed": 0}
    assert stats["tables"]["adcp"]["rows"] == 6
    assert stats["tables"]["adgf"] == {"rows": 0, "expectations": 1, "failed": 0}  # empty table passes
    assert stats["evaluated_expectations"] == stats["successful_expectations"] == 29
    # The warehouse was opened read-only and is unchanged.
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM adam.adtte").fetchone()[0] == 4


def test_planted_problems_fail_with_table_rule_and_counts(tmp_path):
    db = build_warehouse(tmp_path / "warehouse.duckdb", planted_tables())
    result = run_readiness_checks(db, tmp_path / "docs")

    assert result.success is False
    assert result.failures == [
        f"adam.adtte: AVAL >= 1 failed for 1 of 4 rows (e.g. USUBJID={REGO1} PARAMCD=PFS)"
        " [ExpectColumnValuesToBeBetween]",
        f"adam.adtte: AVAL_IS_ADT_MINUS_STARTDT_PLUS_1 failed for 1 of 4 rows (e.g. USUBJID={REGO1} PARAMCD=PFS)"
        " [ExpectColumnValuesToBeInSet]",
        f"adam.adae: AENDT >= ASTDT failed for 1 of 2 rows (e.g. USUBJID={REGO1} AESEQ=1)"
        " [ExpectColumnPairValuesAToBeGreaterThanB]",
        # All three rows of sample S2 carry the sample's sum (1.1).
        f"adam.adcp: 0.999999999 <= SAMPLE_PROPORTION_SUM <= 1.000000001 failed for 3 of 6 rows"
        f" (e.g. USUBJID={SURU1} CPREFID=S2 PARAMCD=TUMOR; USUBJID={SURU1} CPREFID=S2 PARAMCD=TCELL;"
        f" USUBJID={SURU1} CPREFID=S2 PARAMCD=MACRO) [ExpectColumnValuesToBeBetween]",
    ]
    assert result.statistics["unsuccessful_expectations"] == 4
    assert result.docs_index is not None and result.docs_index.is_file()


def test_missing_table_is_a_failure_and_other_tables_still_checked(tmp_path):
    tables = clean_tables()
    del tables["adgf"]
    db = build_warehouse(tmp_path / "warehouse.duckdb", tables)
    result = run_readiness_checks(db, tmp_path / "docs")
    assert result.success is False
    assert result.failures == ["adam.adgf: table missing from the warehouse"]
    assert set(result.statistics["tables"]) == {"adsl", "adtte", "adrs", "adae", "adcp"}
    # No study's rows explain a missing table: every study is held back.
    assert result.unattributed == result.failures
    assert set(result.held_back(["HCC-REGO-PD1", "HCC-SURU-SC"])) == {"HCC-REGO-PD1", "HCC-SURU-SC"}


def test_each_failure_holds_back_the_study_whose_rows_fail_it(tmp_path):
    """The planted problems: REGO1's PFS AVAL and AE dates, SURU1's sample S2. Each
    failing table is validated again study by study; each study gets its own lines."""
    db = build_warehouse(tmp_path / "warehouse.duckdb", planted_tables())
    result = run_readiness_checks(db, tmp_path / "docs")
    assert result.unattributed == []
    assert set(result.failures_by_study) == {"HCC-REGO-PD1", "HCC-SURU-SC"}
    # REGO's rows only: 3 of the 4 adtte rows, 2 of the 2 adae rows.
    assert [line.split(":")[1].strip() for line in result.failures_by_study["HCC-REGO-PD1"]] == [
        "AVAL >= 1 failed for 1 of 3 rows (e.g. USUBJID=HCC-REGO-PD1-101-001 PARAMCD=PFS)"
        " [ExpectColumnValuesToBeBetween]",
        "AVAL_IS_ADT_MINUS_STARTDT_PLUS_1 failed for 1 of 3 rows (e.g. USUBJID=HCC-REGO-PD1-101-001 PARAMCD=PFS)"
        " [ExpectColumnValuesToBeInSet]",
        "AENDT >= ASTDT failed for 1 of 2 rows (e.g. USUBJID=HCC-REGO-PD1-101-001 AESEQ=1)"
        " [ExpectColumnPairValuesAToBeGreaterThanB]",
    ]
    assert len(result.failures_by_study["HCC-SURU-SC"]) == 1
    assert result.failures_by_study["HCC-SURU-SC"][0].startswith("adam.adcp: 0.999999999 <= SAMPLE_PROPORTION_SUM")
    held = result.held_back(["HCC-REGO-PD1", "HCC-SURU-SC", "OTHER"])
    assert set(held) == {"HCC-REGO-PD1", "HCC-SURU-SC"}  # a study with no failing rows is not held back
    assert held["HCC-SURU-SC"].startswith("analysis-readiness checks failed: adam.adcp: ")
    # The results pages hold the whole-table validations only (the re-runs only attribute).
    assert result.statistics["unsuccessful_expectations"] == 4


def test_contract_names_real_gx_classes_and_known_columns():
    """Every expectation in readiness.yml points at an adam column from
    docs/architecture.md or at a derived column of its own table."""
    for suite in load_contract(DEFAULT_CONTRACT):
        known = {c.split()[0] for c in " ".join(ADAM_DDL[suite.table].split()).split(", ")} | set(suite.derived)
        for spec in suite.expectations:
            for key in ("column", "column_A", "column_B"):
                if key in spec.kwargs:
                    assert spec.kwargs[key] in known, f"{suite.table}: {spec.kwargs[key]}"
            assert spec.why


def test_unknown_expectation_class_is_reported(tmp_path):
    contract = tmp_path / "readiness.yml"
    contract.write_text(
        "tables:\n  adsl:\n    expectations:\n"
        "      - {expectation: ExpectAgeToBeNice, kwargs: {column: AGE}, why: typo}\n"
    )
    db = build_warehouse(tmp_path / "warehouse.duckdb", clean_tables())
    with pytest.raises(ReadinessContractError, match="ExpectAgeToBeNice"):
        run_readiness_checks(db, tmp_path / "docs", contract_path=contract)


@pytest.mark.parametrize(
    "expectation, kwargs, text",
    [
        ("ExpectColumnValuesToBeBetween", {"column": "AVAL", "min_value": 1}, "AVAL >= 1"),
        ("ExpectColumnValuesToBeBetween", {"column": "ATOXGR", "min_value": 1, "max_value": 5}, "1 <= ATOXGR <= 5"),
        (
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "TRTEDT", "column_B": "TRTSDT", "or_equal": True},
            "TRTEDT >= TRTSDT",
        ),
        ("ExpectColumnValuesToBeInSet", {"column": "DTHFL_Y_IFF_DTHDT", "value_set": [True]}, "DTHFL_Y_IFF_DTHDT"),
        ("ExpectColumnValuesToNotBeInSet", {"column": "ADY", "value_set": [0]}, "ADY not in {0}"),
    ],
)
def test_rules_read_like_a_statistician_would_write_them(expectation, kwargs, text):
    assert describe_rule(expectation, kwargs) == text


def test_rerun_replaces_last_nights_pages_and_keeps_other_files(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("data manager's own file")
    bad = build_warehouse(tmp_path / "bad.duckdb", planted_tables())
    good = build_warehouse(tmp_path / "good.duckdb", clean_tables())
    run_readiness_checks(bad, docs)
    run_readiness_checks(good, docs)
    # One validation page per table: the first night's results are gone.
    assert len(list((docs / "validations").rglob("*.html"))) == 6
    assert (docs / "notes.txt").read_text() == "data manager's own file"


def test_checks_that_cannot_run_are_failures_not_passes(tmp_path):
    """A renamed column must not make a check silently vanish."""
    contract = tmp_path / "readiness.yml"
    contract.write_text(
        "tables:\n"
        "  adsl:\n"
        "    expectations:\n"
        "      - {expectation: ExpectColumnValuesToBeBetween, kwargs: {column: AGEYRS, min_value: 18}, why: renamed}\n"
        "  adae:\n"
        "    derived: {BAD: 't.NO_SUCH_COLUMN + 1'}\n"
        "    expectations:\n"
        "      - {expectation: ExpectColumnValuesToBeBetween, kwargs: {column: BAD, min_value: 0}, why: broken sql}\n"
    )
    db = build_warehouse(tmp_path / "warehouse.duckdb", clean_tables())
    result = run_readiness_checks(db, tmp_path / "docs", contract_path=contract)
    assert result.success is False
    assert len(result.failures) == 2
    assert result.failures[0].startswith("adam.adae: could not be read for the readiness checks:")
    assert "NO_SUCH_COLUMN" in result.failures[0]
    assert result.failures[1] == (
        "adam.adsl: AGEYRS >= 18 could not be evaluated: "
        'Error: The column "AGEYRS" in BatchData does not exist. '
        "[ExpectColumnValuesToBeBetween]"
    )


def test_malformed_or_missing_contract_is_a_one_line_error(tmp_path):
    bad = tmp_path / "readiness.yml"
    bad.write_text("tables:\n  adsl: [unclosed\n")
    with pytest.raises(ReadinessContractError, match=r"readiness.yml: cannot read readiness contract") as err:
        load_contract(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(ReadinessContractError, match="cannot read readiness contract"):
        load_contract(tmp_path / "absent.yml")


def test_results_open_from_disk_with_the_run_name_and_data_assets(tmp_path):
    """Our index.html is self-contained (GX's own pages need CDNs); GX's pages name the run and asset."""
    db = build_warehouse(tmp_path / "warehouse.duckdb", planted_tables())
    result = run_readiness_checks(db, tmp_path / "docs", run_name="20261130T020000Z-abc123")
    assert result.run_name == "20261130T020000Z-abc123"
    assert [t["asset"] for t in result.tables] == [
        f"adam.{t}" for t in ("adsl", "adtte", "adrs", "adae", "adcp", "adgf")
    ]
    adtte = next(t for t in result.tables if t["table"] == "adtte")
    assert adtte["failed"] == 2 and adtte["rows"] == 4
    failing = next(c for c in adtte["checks"] if c["rule"] == "AVAL >= 1")
    assert (failing["success"], failing["unexpected_count"], failing["examples"]) == (
        False,
        1,
        [f"USUBJID={REGO1} PARAMCD=PFS"],
    )

    index = (tmp_path / "docs" / "index.html").read_text(encoding="utf-8")
    assert "http://" not in index and "https://" not in index and "<script" not in index
    assert 'content="default-src &#39;none&#39;; style-src &#39;sha256-' in index  # no network, no script
    assert 'id="run-name">20261130T020000Z-abc123<' in index
    for asset in ("adam.adsl", "adam.adtte", "adam.adgf"):
        assert f"<code>{asset}</code>" in index
    assert "AVAL &gt;= 1" in index and "failed for 1 of 4 rows" in index
    assert (tmp_path / "docs" / "gx-index.html").is_file()
    pages = sorted((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == 6
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "__none__" not in text and "Data asset: None" not in text
        assert "20261130T020000Z-abc123" in text and f"Data asset: adam.{page.parts[-4]}" in text
        assert page.relative_to(tmp_path / "docs").as_posix() in index  # linked from our page


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_results_page_renders_its_tables_offline_in_a_browser(tmp_path):
    db = build_warehouse(tmp_path / "warehouse.duckdb", clean_tables())
    result = run_readiness_checks(db, tmp_path / "docs", run_name="night-1")
    with HeadlessChromium(result.docs_index.as_uri(), tmp_path) as browser:
        assert browser.evaluate("document.querySelectorAll('#assets tbody tr').length") == 6
        assert browser.evaluate("document.querySelectorAll('table.checks tbody tr').length") == 29
        assert browser.text("#verdict") == "passed" and browser.text("#run-name") == "night-1"
        # The inline style applied (allowed by its hash): the tables have borders, not browser defaults.
        assert browser.evaluate("getComputedStyle(document.querySelector('#assets th')).borderTopStyle") == "solid"
        browser.screenshot(tmp_path / "readiness.png")
