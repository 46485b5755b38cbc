"""dbt build for real against a hand-written warehouse, then hand-checked ADaM values.

The warehouse is a real DuckDB file in tmp_path with raw.* (all 12 domains,
VARCHAR as the loader writes them), audit.transfers (DDL trialdw/sql/audit.sql)
and config.* (trialdw.study_config.write_config_tables over the real studies/*.yml),
written by tests/helpers/dbt_warehouse.py.
The build runs once per module: it costs seconds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.helpers.dbt_warehouse import RawRows, create_warehouse, one, query
from trialdw.dbt_runner import dbt_build

pytestmark = pytest.mark.slow

REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
OLD_TRANSFER, CURRENT_TRANSFER = "20260401T020000Z", "20260601T020000Z"

# ---------------------------------------------------------------- hand-written subjects


def _subject_rows() -> dict[str, list[dict]]:
    r = RawRows(CURRENT_TRANSFER)

    # S1: ongoing EX period, PR-NE-PR, AE partial-date imputations, alive.
    s1 = f"{REGO}-101-001"
    r.dm(s1, "2026-01-02", "2026-01-05", age="55", transfer=OLD_TRANSFER)  # superseded: must not count
    r.dm(s1, "2026-01-02", "2026-01-05", age="56")
    r.ex(s1, 1, "2026-01-10", "2026-01-30", extrt="REGORAFENIB")
    r.ex(s1, 2, "2026-01-10", "2026-01-10", extrt="PD-1 INHIBITOR")
    r.ex(s1, 3, "2026-02-07", None, extrt="REGORAFENIB")  # ongoing
    for code, value in [
        ("ECOG", "1"),
        ("CHILDPGH", "A"),
        ("BCLC", "C"),
        ("ETIOLOGY", "HBV"),
        ("PRIORSYS", "SORAFENIB"),
        ("MVI", "N"),
        ("EHS", "Y"),
    ]:
        r.add("sc", s1, SCTESTCD=code, SCTEST=code, SCORRES=value, SCDTC="2026-01-03")
    r.afp(s1, "2026-01-03", 400)
    r.afp(s1, "2026-01-09", 350)
    r.afp(s1, "2026-01-12", 300)
    r.lesion(s1, "T01", "TARGET", "LIVER", "2026-01-08")
    r.ovr(s1, 1, "2026-02-21", "PR")
    r.ovr(s1, 1, "2026-02-21", "CR", evaluator="INDEPENDENT ASSESSOR")  # not the study's evaluator
    r.ovr(s1, 2, "2026-04-04", "NE")
    r.ovr(s1, 3, "2026-05-16", "PR")
    r.ae(s1, 1, "2026-01", "2026-02-03", grade="3", rel="POSSIBLY RELATED")  # TRTSDT month, ends after
    r.ae(s1, 2, "2026-01", "2026-01-05")  # TRTSDT month but ended before TRTSDT
    r.ae(s1, 3, "2026", "2026-03")  # year only; end month only
    r.ae(s1, 4, "2026-03-15", None)  # ongoing
    r.add("ss", s1, SSTESTCD="SURVSTAT", SSSTRESC="ALIVE", SSDTC="2026-06-01")

    # S2: PD (worst of day), dies; a lab after death; end-of-treatment AE.
    s2 = f"{REGO}-101-002"
    r.dm(s2, "2026-01-04", "2026-01-06", dthdtc="2026-04-10")
    r.ex(s2, 1, "2026-01-12", "2026-03-05", extrt="REGORAFENIB")
    r.lesion(s2, "T01", "TARGET", "LIVER", "2026-01-10")
    r.ovr(s2, 1, "2026-02-23", "SD")
    r.ovr(s2, 1.1, "2026-02-23", "PD")  # same date: the worst (PD) is kept
    r.ovr(s2, 2, "2026-03-20", "SD")  # after the first PD: outside ANL01FL
    r.add("ds", s2, DSCAT="DISPOSITION EVENT", DSSCAT="END OF TREATMENT", DSDECOD="ADVERSE EVENT", DSSTDTC="2026-03-05")
    r.add("ds", s2, DSCAT="DISPOSITION EVENT", DSSCAT="END OF STUDY", DSDECOD="DEATH", DSSTDTC="2026-04-10")
    r.add("ss", s2, SSTESTCD="SURVSTAT", SSSTRESC="ALIVE", SSDTC="2026-03-20")
    r.add("ss", s2, SSTESTCD="SURVSTAT", SSSTRESC="DEAD", SSDTC="2026-04-20")
    r.afp(s2, "2026-04-15", 50)  # dated after death: LSTALVDT must stay at DTHDT
    r.ae(s2, 1, "2026-04", "2026-04", grade="5", out="FATAL")  # end imputed 30 Apr -> capped at DTHDT

    # S3: never dosed; death known from DS only.
    s3 = f"{REGO}-101-003"
    r.dm(s3, "2026-01-28", "2026-02-01")
    r.afp(s3, "2026-01-30", 12)
    r.add("ss", s3, SSTESTCD="SURVSTAT", SSSTRESC="ALIVE", SSDTC="2026-03-01")
    r.add("ds", s3, DSCAT="DISPOSITION EVENT", DSSCAT="END OF STUDY", DSDECOD="DEATH", DSSTDTC="2026-05-01")

    # S4: the AFP marker rule (tie -> higher value; normal; no result in window).
    s4 = f"{REGO}-101-004"
    r.dm(s4, "2026-01-10", "2026-01-12")
    r.ex(s4, 1, "2026-01-15", "2026-03-15", extrt="REGORAFENIB")
    r.lesion(s4, "T01", "TARGET", "LIVER", "2026-01-13")
    r.ovr(s4, 1, "2026-02-26", "CR")
    r.afp(s4, "2026-02-20", 5)
    r.afp(s4, "2026-03-04", 20)  # equally close (6 days): the higher (20 > 10) decides -> PR
    r.ovr(s4, 2, "2026-04-09", "CR")
    r.afp(s4, "2026-04-01", 4)  # 8 days, normal -> CR stays
    r.ovr(s4, 3, "2026-05-21", "CR")  # no AFP within 14 days -> PR

    # S5 (SURU, no marker rule, SD minimum 42): CR then PR confirms a PR (the † rule); single cell.
    s5 = f"{SURU}-201-005"
    r.dm(s5, "2026-02-20", "2026-02-25")
    r.ex(s5, 1, "2026-03-02", None, extrt="SURUFATINIB")
    r.lesion(s5, "T01", "TARGET", "LIVER", "2026-03-01")
    r.ovr(s5, 1, "2026-04-13", "CR")
    r.ovr(s5, 2, "2026-05-25", "PR")
    for sample, visit, visitnum, date, counts in [
        ("S5-B", "BASELINE", "0", "2026-02-28", {"TUMOR": 60, "TCELL": 30, "MACRO": 10}),
        ("S5-T", "ON TREATMENT", "2", "2026-04-20", {"TUMOR": 20, "TCELL": 60, "MACRO": 20}),
    ]:
        for code, cells in counts.items():
            r.add(
                "cp",
                s5,
                CPREFID=sample,
                CPSPEC="TUMOR TISSUE",
                VISIT=visit,
                VISITNUM=visitnum,
                CPTESTCD=code,
                CPTEST=code.title(),
                CPSTRESN=str(cells),
                CPSTRESU="CELLS",
                CPMETHOD="SCRNA-SEQ",
                CPDTC=date,
            )
        r.add(
            "gf",
            s5,
            GFREFID=sample,
            VISIT=visit,
            VISITNUM=visitnum,
            GFCELLTY="TCELL",
            GFGENSY="CD8A",
            GFSTRESN="1.5" if visit == "BASELINE" else "2.5",
            GFSTRESU="LOG1P CPM",
            GFDTC=date,
        )

    # S6 (SURU): SD 35 days after TRTSDT is before the 42-day minimum, then PD.
    s6 = f"{SURU}-201-006"
    r.dm(s6, "2026-02-20", "2026-02-25")
    r.ex(s6, 1, "2026-03-02", "2026-05-20", extrt="SURUFATINIB")
    r.lesion(s6, "T01", "TARGET", "LIVER", "2026-03-01")
    r.ovr(s6, 1, "2026-04-06", "SD")
    r.ovr(s6, 2, "2026-05-18", "PD")
    return r.rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    db_path = tmp_path_factory.mktemp("dbt_adam") / "warehouse.duckdb"
    create_warehouse(
        db_path,
        _subject_rows(),
        transfers=[
            (REGO, "101", OLD_TRANSFER, False),
            (REGO, "101", CURRENT_TRANSFER, True),
            (SURU, "201", CURRENT_TRANSFER, True),
        ],
    )
    result = dbt_build(db_path)
    assert result.success, "\n".join(result.failures)
    assert result.unit_tests_failed == 0 and result.tests_failed == 0
    return db_path


D = dt.date.fromisoformat
S1, S2, S3, S4, S5, S6 = (
    f"{REGO}-101-001",
    f"{REGO}-101-002",
    f"{REGO}-101-003",
    f"{REGO}-101-004",
    f"{SURU}-201-005",
    f"{SURU}-201-006",
)


def test_build_runs_models_dbt_tests_and_unit_tests(warehouse):
    # the fixture asserted success; here: every adam table exists in schema adam
    tables = {
        r[0] for r in query(warehouse, "select table_name from information_schema.tables where table_schema = 'adam'")
    }
    assert tables == {"adsl", "adrs", "adtte", "adae", "adcp", "adgf"}


def test_a_build_into_a_new_file_equals_the_adapters_rebuild(warehouse, tmp_path):
    """Into a new file every model is created under its own name in one statement
    (dbt_project/macros/materializations_into_a_new_file.sql); a second build into
    that file takes the adapter's own materializations (a __dbt_tmp relation
    renamed over the existing one). Both give the same relations, column types,
    comments, view SQL and rows."""
    import shutil

    import duckdb

    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copyfile(warehouse, rebuilt)
    result = dbt_build(rebuilt, nightly=True)
    assert result.success, "\n".join(result.failures)
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as new_file (read_only)")
        con.execute(f"attach '{rebuilt}' as rebuilt (read_only)")

        def catalog(db: str) -> dict[str, list[tuple]]:
            where = f"database_name = '{db}' and schema_name not in ('raw', 'audit', 'config')"
            return {
                "columns": con.execute(
                    f"select schema_name, table_name, column_index, column_name, data_type, comment"
                    f" from duckdb_columns() where {where} order by all"
                ).fetchall(),
                "tables": con.execute(
                    f"select schema_name, table_name, comment from duckdb_tables() where {where} order by all"
                ).fetchall(),
                "views": con.execute(
                    f"select schema_name, view_name, comment, sql from duckdb_views()"
                    f" where {where} and not internal order by all"
                ).fetchall(),
            }

        built, again = catalog("new_file"), catalog("rebuilt")
        assert len(built["tables"]) >= 40 and len(built["views"]) >= 14
        assert built == again
        assert not [t for t in built["tables"] + again["tables"] if "__dbt_" in t[1]]
        for schema, table, _comment in built["tables"]:
            for a, b in (("new_file", "rebuilt"), ("rebuilt", "new_file")):
                extra = con.execute(
                    f'select count(*) from (select * from {a}."{schema}"."{table}"'
                    f' except all select * from {b}."{schema}"."{table}")'
                ).fetchall()[0][0]
                assert extra == 0, f"{schema}.{table}: {extra} rows of {a} not in {b}"


def test_adsl_uses_only_the_current_transfer(warehouse):
    assert one(warehouse, f"select count(*), max(AGE) from adam.adsl where USUBJID = '{S1}'") == (1, 56)


def test_adsl_treatment_dates_with_an_ongoing_period(warehouse):
    # EX: 10-30 Jan, 10 Jan, 7 Feb ongoing -> TRTEDT is the ongoing period's start
    assert one(warehouse, f"select TRTSDT, TRTEDT, SAFFL, EFFFL, EOTSTT from adam.adsl where USUBJID = '{S1}'") == (
        D("2026-01-10"),
        D("2026-02-07"),
        "Y",
        "Y",
        "ONGOING",
    )


def test_adsl_baseline_characteristics_and_afp(warehouse):
    # AFP 400 (3 Jan), 350 (9 Jan), 300 (12 Jan, after TRTSDT) -> 350
    assert one(
        warehouse,
        f"select ECOG, CHILDPGH, BCLC, ETIOLOGY, PRIORSYS, MVI, EHS, AFPBL from adam.adsl where USUBJID = '{S1}'",
    ) == (1, "A", "C", "HBV", "SORAFENIB", "N", "Y", 350.0)


def test_adsl_death_and_last_alive_capped_at_death(warehouse):
    # a lab on 15 Apr and an SS DEAD contact on 20 Apr come after the death on 10 Apr
    assert one(warehouse, f"select DTHDT, DTHFL, LSTALVDT, EOTSTT, DCTREAS from adam.adsl where USUBJID = '{S2}'") == (
        D("2026-04-10"),
        "Y",
        D("2026-04-10"),
        "DISCONTINUED",
        "ADVERSE EVENT",
    )


def test_adsl_never_dosed_subject_with_death_from_ds(warehouse):
    assert one(
        warehouse,
        f"select ITTFL, SAFFL, EFFFL, TRTSDT, TRTEDT, TRT01A, EOTSTT, AFPBL, DTHDT, LSTALVDT "
        f"from adam.adsl where USUBJID = '{S3}'",
    ) == ("Y", "N", "N", None, None, None, None, 12.0, D("2026-05-01"), D("2026-03-01"))


def test_adae_start_imputed_to_trtsdt_in_its_month(warehouse):
    rows = query(
        warehouse,
        f"select AESEQ, ASTDT, ASTDTF, AENDT, AENDTF, ASTDY, AENDY, ADURN, TRTEMFL, ADRFL, ATOXGRN "
        f"from adam.adae where USUBJID = '{S1}' order by AESEQ",
    )
    assert rows == [
        (1, D("2026-01-10"), "D", D("2026-02-03"), None, 1, 25, 25, "Y", "Y", 3),
        (2, D("2026-01-01"), "D", D("2026-01-05"), None, -9, -5, 5, None, None, 2),  # ended before TRTSDT
        (3, D("2026-01-10"), "M", D("2026-03-31"), "D", 1, 81, 81, "Y", None, 2),
        (4, D("2026-03-15"), None, None, None, 65, None, None, None, None, 2),  # TRTEDT 7 Feb + 30 < 15 Mar
    ]


def test_adae_imputed_end_never_after_death(warehouse):
    assert one(warehouse, f"select ASTDT, AENDT, AENDTF, TRTEMFL from adam.adae where USUBJID = '{S2}'") == (
        D("2026-04-01"),
        D("2026-04-10"),
        "D",
        "Y",
    )


def _adrs(db, usubjid, paramcd):
    return query(
        db,
        f"select ADT, AVALC, ORRESP, MRKREAS, ANL01FL from adam.adrs "
        f"where USUBJID = '{usubjid}' and PARAMCD = '{paramcd}' order by ADT",
    )


def test_adrs_pr_ne_pr_is_a_confirmed_pr(warehouse):
    assert [r[:2] for r in _adrs(warehouse, S1, "OVR")] == [
        (D("2026-02-21"), "PR"),
        (D("2026-04-04"), "NE"),
        (D("2026-05-16"), "PR"),
    ]  # assessor's CR ignored
    assert [r[:2] for r in _adrs(warehouse, S1, "CBOR")] == [(D("2026-02-21"), "PR")]
    assert [r[1] for r in _adrs(warehouse, S1, "RSP")] == ["Y"]


def test_adrs_worst_of_day_and_window_up_to_first_pd(warehouse):
    assert [(r[0], r[1], r[4]) for r in _adrs(warehouse, S2, "OVR")] == [
        (D("2026-02-23"), "PD", "Y"),
        (D("2026-03-20"), "SD", None),
    ]
    assert [r[:2] for r in _adrs(warehouse, S2, "PD")] == [(D("2026-02-23"), "Y")]


def test_adrs_cr_marker_rule_keeps_the_original_and_the_reason(warehouse):
    assert _adrs(warehouse, S4, "OVR") == [
        (D("2026-02-26"), "PR", "CR", "CR counted as PR: AFP 20.0 on 2026-03-04 above upper limit 10.0", "Y"),
        (D("2026-04-09"), "CR", "CR", None, "Y"),
        (D("2026-05-21"), "PR", "CR", "CR counted as PR: no AFP result within 14 days", "Y"),
    ]
    assert [r[:2] for r in _adrs(warehouse, S4, "BOR")] == [(D("2026-04-09"), "CR")]
    assert [r[:2] for r in _adrs(warehouse, S4, "CBOR")] == [(D("2026-02-26"), "PR")]


def test_adrs_cr_then_pr_confirms_a_pr(warehouse):
    # the † rule: admiralonco would leave CR -> PR unconfirmed (SD)
    assert [r[:2] for r in _adrs(warehouse, S5, "CBOR")] == [(D("2026-04-13"), "PR")]


def test_adrs_sd_before_the_study_minimum_does_not_count(warehouse):
    # HCC-SURU-SC: SD minimum 42 days; SD on day 35 -> best response is the PD
    assert [r[:2] for r in _adrs(warehouse, S6, "BOR")] == [(D("2026-05-18"), "PD")]
    assert [r[1] for r in _adrs(warehouse, S6, "DCR")] == ["N"]


def test_adrs_no_derived_parameters_for_an_undosed_subject(warehouse):
    assert query(warehouse, f"select * from adam.adrs where USUBJID = '{S3}'") == []


def _adtte(db, usubjid, paramcd):
    return one(
        db,
        f"select STARTDT, ADT, AVAL, CNSR, EVNTDESC, CNSDTDSC from adam.adtte "
        f"where USUBJID = '{usubjid}' and PARAMCD = '{paramcd}'",
    )


def test_adtte_os(warehouse):
    # alive: 5 Jan -> 1 Jun = 147 days + 1
    assert _adtte(warehouse, S1, "OS") == (D("2026-01-05"), D("2026-06-01"), 148, 1, "ALIVE", "LAST KNOWN ALIVE DATE")
    # died: 6 Jan -> 10 Apr
    assert _adtte(warehouse, S2, "OS") == (D("2026-01-06"), D("2026-04-10"), 95, 0, "DEATH", None)
    # never dosed but enrolled (ITT): death from DS
    assert _adtte(warehouse, S3, "OS") == (D("2026-02-01"), D("2026-05-01"), 90, 0, "DEATH", None)


def test_adtte_pfs_and_dor(warehouse):
    assert _adtte(warehouse, S1, "PFS") == (
        D("2026-01-10"),
        D("2026-05-16"),
        127,
        1,
        "NO PROGRESSION OR DEATH",
        "LAST ADEQUATE ASSESSMENT DATE",
    )
    assert _adtte(warehouse, S2, "PFS") == (D("2026-01-12"), D("2026-02-23"), 43, 0, "DISEASE PROGRESSION", None)
    assert _adtte(warehouse, S1, "DOR") == (
        D("2026-02-21"),
        D("2026-05-16"),
        85,
        1,
        "NO PROGRESSION OR DEATH",
        "LAST ADEQUATE ASSESSMENT DATE",
    )
    # population members only: no PFS for the undosed subject, no DOR for non-responders
    assert query(
        warehouse,
        f"select PARAMCD from adam.adtte where USUBJID in ('{S3}', '{S2}', '{S6}') "
        f"and PARAMCD in ('PFS', 'DOR') order by all",
    ) == [("PFS",), ("PFS",)]


def test_adcp_and_adgf_proportions_baseline_and_change(warehouse):
    rows = query(
        warehouse,
        f"select CPREFID, PARAMCD, CELLS, TOTCELLS, round(AVAL, 6), round(BASE, 6), "
        f"round(CHG, 6), ABLFL from adam.adcp where USUBJID = '{S5}' and PARAMCD = 'TCELL' "
        f"order by CPREFID",
    )
    assert rows == [("S5-B", "TCELL", 30, 100, 0.3, 0.3, None, "Y"), ("S5-T", "TCELL", 60, 100, 0.6, 0.3, 0.3, None)]
    assert query(warehouse, "select GFREFID, AVAL, BASE, CHG, ABLFL from adam.adgf order by GFREFID") == [
        ("S5-B", 1.5, 1.5, None, "Y"),
        ("S5-T", 2.5, 1.5, 1.0, None),
    ]


# ---------------------------------------------------------------- ADaM conventions (docs/derivations.md)


def test_adsl_variables_and_treatment_are_carried_to_adrs_adtte_adae(warehouse):
    # Single-arm studies: TRTP = TRT01P = ARM, TRTPN 1 (the only arm of the study file).
    arm = "REGORAFENIB + PD-1 INHIBITOR"
    for table in ("adrs", "adtte", "adae"):
        rows = query(
            warehouse,
            f"select distinct SITEID, TRT01P, TRT01A, ITTFL, SAFFL, EFFFL, TRTP, TRTPN, TRTA, TRTAN "
            f"from adam.{table} where USUBJID = '{S1}'",
        )
        assert rows == [("101", arm, arm, "Y", "Y", "Y", arm, 1, arm, 1)], table
    # never dosed: planned treatment only, and the OS row carries SAFFL N
    assert one(warehouse, f"select TRT01P, TRT01PN, TRT01A, TRT01AN from adam.adsl where USUBJID = '{S3}'") == (
        arm,
        1,
        None,
        None,
    )
    assert one(warehouse, f"select TRTP, TRTA, SAFFL from adam.adtte where USUBJID = '{S3}'") == (arm, None, "N")


def test_aseq_numbers_each_subjects_records_in_the_documented_order(warehouse):
    # ADRS: by PARAMCD, ADT, AVISITN. S1 has BOR CBOR DCR OVR x3 OVRRECIS ... PD RSP.
    rows = query(warehouse, f"select ASEQ, PARAMCD, ADT from adam.adrs where USUBJID = '{S1}' order by ASEQ")
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows == sorted(rows, key=lambda r: (r[1], r[2] or dt.date.max))
    # ADTTE: by PARAMCD (DOR, OS, PFS); ADAE: by ASTDT, then AESEQ.
    assert query(warehouse, f"select ASEQ, PARAMCD from adam.adtte where USUBJID = '{S1}' order by ASEQ") == [
        (1, "DOR"),
        (2, "OS"),
        (3, "PFS"),
    ]
    assert query(
        warehouse, f"select ASEQ, AESEQ, SRCDOM, SRCSEQ from adam.adae where USUBJID = '{S1}' order by ASEQ"
    ) == [
        (1, 2, "AE", 2),  # 1 Jan (ended before TRTSDT)
        (2, 1, "AE", 1),  # 10 Jan (imputed to TRTSDT), AESEQ 1 before 3
        (3, 3, "AE", 3),  # 10 Jan
        (4, 4, "AE", 4),  # 15 Mar
    ]


def test_adrs_analysis_visit_and_source_of_ovr_records(warehouse):
    # S2: SD and PD on 23 Feb (VISITNUM 1 and 1.1): the PD record is kept, its visit is the analysis visit.
    assert one(
        warehouse,
        f"select AVISIT, AVISITN, VISIT, VISITNUM, SRCDOM, SRCVAR from adam.adrs "
        f"where USUBJID = '{S2}' and PARAMCD = 'OVR' and ADT = date '2026-02-23'",
    ) == ("VISIT 1.1", 1.1, "VISIT 1.1", 1.1, "RS", "RSSTRESC")
    # derived parameters: the qualifying assessment's visit, no single source record
    assert one(
        warehouse, f"select AVISIT, AVISITN, SRCDOM from adam.adrs where USUBJID = '{S2}' and PARAMCD = 'PD'"
    ) == ("VISIT 1.1", 1.1, None)


def test_adtte_srcseq_points_to_the_adrs_record_of_the_date(warehouse):
    # S1 PFS censored at the last adequate assessment (16 May): that OVR record's ASEQ.
    # S2 PFS event = first PD (23 Feb): the ADRS PD record's ASEQ. OS: from ADSL, no SRCSEQ.
    for usubjid, adrs_param in ((S1, "OVR"), (S2, "PD")):
        srcseq, adt = one(
            warehouse, f"select SRCSEQ, ADT from adam.adtte where USUBJID = '{usubjid}' and PARAMCD = 'PFS'"
        )
        assert one(
            warehouse, f"select PARAMCD, ADT from adam.adrs where USUBJID = '{usubjid}' and ASEQ = {srcseq}"
        ) == (adrs_param, adt)
    assert one(warehouse, f"select SRCDOM, SRCSEQ from adam.adtte where USUBJID = '{S1}' and PARAMCD = 'OS'") == (
        "ADSL",
        None,
    )


def test_adae_toxicity_grade_as_text_and_number_and_duration_unit(warehouse):
    rows = query(
        warehouse, f"select AESEQ, ATOXGR, ATOXGRN, ADURN, ADURU from adam.adae where USUBJID = '{S1}' order by AESEQ"
    )
    assert rows == [
        (1, "3", 3, 25, "DAYS"),
        (2, "2", 2, 5, "DAYS"),
        (3, "2", 2, 81, "DAYS"),
        (4, "2", 2, None, None),  # ongoing: no duration, no unit
    ]
