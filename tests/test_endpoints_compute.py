"""compute_all end to end: hand-made adam tables in a real DuckDB file.

Study A has six subjects (every number below is worked out in the comments),
study B is configured but has no subjects yet, study C has subjects but no
responder, no AE and no single-cell data.
"""

import datetime as dt

import duckdb
import pytest

from trialdw.endpoints import ENDPOINTS, compute_all

# adam layouts from docs/architecture.md (the contract with dbt).
DATE, INT, DBL = "DATE", "INTEGER", "DOUBLE"
ADAM = {
    "adsl": dict.fromkeys(
        [
            "STUDYID",
            "USUBJID",
            "SUBJID",
            "SITEID",
            "SEX",
            "RACE",
            "ETHNIC",
            "COUNTRY",
            "ARM",
            "ARMCD",
            "TRT01P",
            "TRT01A",
            "ECOG",
            "CHILDPGH",
            "BCLC",
            "ETIOLOGY",
            "PRIORSYS",
            "MVI",
            "EHS",
            "DTHFL",
            "EOTSTT",
            "DCTREAS",
            "ITTFL",
            "SAFFL",
            "EFFFL",
        ],
        "VARCHAR",
    )
    | {
        "AGE": INT,
        "AFPBL": DBL,
        "RFICDT": DATE,
        "ENRLDT": DATE,
        "TRTSDT": DATE,
        "TRTEDT": DATE,
        "DTHDT": DATE,
        "LSTALVDT": DATE,
    },
    "adrs": dict.fromkeys(
        [
            "STUDYID",
            "USUBJID",
            "PARAMCD",
            "PARAM",
            "AVALC",
            "VISIT",
            "ANL01FL",
            "ORRESP",
            "MRKREAS",
        ],
        "VARCHAR",
    )
    | {"AVAL": DBL, "ADT": DATE, "ADY": INT, "VISITNUM": DBL},
    "adtte": dict.fromkeys(
        [
            "STUDYID",
            "USUBJID",
            "PARAMCD",
            "PARAM",
            "EVNTDESC",
            "CNSDTDSC",
            "SRCDOM",
            "SRCVAR",
        ],
        "VARCHAR",
    )
    | {"STARTDT": DATE, "ADT": DATE, "AVAL": DBL, "CNSR": INT},
    "adae": dict.fromkeys(
        [
            "STUDYID",
            "USUBJID",
            "AETERM",
            "AEDECOD",
            "AEBODSYS",
            "ASTDTF",
            "AENDTF",
            "AESER",
            "AEREL",
            "AEOUT",
            "AEACN",
            "TRTEMFL",
            "ADRFL",
            "ATOXGR",
        ],
        "VARCHAR",
    )
    | {"AESEQ": INT, "ASTDT": DATE, "AENDT": DATE, "ASTDY": INT, "AENDY": INT, "ADURN": INT, "ATOXGRN": INT},
    "adcp": dict.fromkeys(
        [
            "STUDYID",
            "USUBJID",
            "CPREFID",
            "VISIT",
            "PARAMCD",
            "PARAM",
            "ABLFL",
        ],
        "VARCHAR",
    )
    | {"VISITNUM": DBL, "ADT": DATE, "CELLS": INT, "TOTCELLS": INT, "AVAL": DBL, "BASE": DBL, "CHG": DBL},
    "adgf": dict.fromkeys(
        [
            "STUDYID",
            "USUBJID",
            "GFREFID",
            "VISIT",
            "CELLTYPE",
            "GENE",
            "ABLFL",
        ],
        "VARCHAR",
    )
    | {"VISITNUM": DBL, "ADT": DATE, "AVAL": DBL, "BASE": DBL, "CHG": DBL},
}

# USUBJID: (ITTFL, SAFFL, EFFFL). ITT 6, SAF 5 (not A05), EFF 4 (A01 A02 A03 A06).
A_FLAGS = {"A01": "YYY", "A02": "YYY", "A03": "YYY", "A04": "YYN", "A05": "YNN", "A06": "YYY"}
C_FLAGS = {"C01": "YYY", "C02": "YYY"}

# (USUBJID, PARAMCD, AVAL days, CNSR)
A_TTE = [
    # PFS of the 4 EFFFL subjects. Crude PFS_RATE_3M counts AVAL > 91.3125:
    # A02 (92, censored, still counts) and A06 (200) -> 2/4. A01 at exactly
    # 91.3125 does not count. A04 is not EFFFL: its stray row is ignored.
    ("A01", "PFS", 91.3125, 0),
    ("A02", "PFS", 92, 1),
    ("A03", "PFS", 91, 0),
    ("A06", "PFS", 200, 0),
    ("A04", "PFS", 300, 1),
    # OS of the 6 ITT subjects. MORT_12M counts deaths with AVAL <= 365.25:
    # A01 (365.25), A04 (50), A06 (365) -> 3/6. A02 died at 366 (after 12 months).
    ("A01", "OS", 365.25, 0),
    ("A02", "OS", 366, 0),
    ("A03", "OS", 100, 1),
    ("A04", "OS", 50, 0),
    ("A05", "OS", 400, 1),
    ("A06", "OS", 365, 0),
    # DOR of the two responders, both censored: median not reached.
    ("A01", "DOR", 100, 1),
    ("A02", "DOR", 50, 1),
]
A_CBOR = {"A01": "CR", "A02": "PR", "A03": "SD", "A06": "PD", "A04": "PR"}  # A04 not EFFFL
C_CBOR = {"C01": "PD", "C02": "NE"}

# (USUBJID, AESEQ, AEBODSYS, AEDECOD, ATOXGR, AESER, AEACN, TRTEMFL, ADRFL)
NERV, VASC, GI = "NERVOUS SYSTEM DISORDERS", "VASCULAR DISORDERS", "GASTROINTESTINAL DISORDERS"
A_AE = [
    ("A01", 1, NERV, "HEADACHE", 1, "N", "DOSE NOT CHANGED", "Y", None),
    ("A01", 2, NERV, "HEADACHE", 3, "N", "DOSE REDUCED", "Y", "Y"),
    ("A01", 3, VASC, "HYPERTENSION", 2, "N", None, "Y", None),
    ("A02", 1, NERV, "HEADACHE", 2, "Y", "DRUG INTERRUPTED", "Y", None),
    ("A02", 2, NERV, "HEADACHE", 4, "N", None, None, None),  # before treatment: not a TEAE
    ("A03", 1, GI, "DIARRHOEA", 5, "Y", "DRUG WITHDRAWN", "Y", "Y"),
    ("A05", 1, NERV, "HEADACHE", 3, "N", None, "Y", None),  # not SAFFL
]

# Single cell, study A. (USUBJID, sample, VISIT, ADT, PARAMCD, AVAL, BASE, CHG)
BL, ON = "BASELINE", "ON TREATMENT"
A_CP = [
    # ENDOTH pairs: A01 0.10->0.05, A02 0.20->0.12, A03 0.30->0.19 (A03's later
    # second biopsy 0.50 is not used: the earliest on-treatment sample pairs).
    ("A01", "S1", BL, "2026-01-01", "ENDOTH", 0.10, 0.10, None),
    ("A01", "S2", ON, "2026-02-01", "ENDOTH", 0.05, 0.10, -0.05),
    ("A02", "S3", BL, "2026-01-01", "ENDOTH", 0.20, 0.20, None),
    ("A02", "S4", ON, "2026-02-01", "ENDOTH", 0.12, 0.20, -0.08),
    ("A03", "S5", BL, "2026-01-01", "ENDOTH", 0.30, 0.30, None),
    ("A03", "S6", ON, "2026-02-01", "ENDOTH", 0.19, 0.30, -0.11),
    ("A03", "S7", ON, "2026-03-01", "ENDOTH", 0.50, 0.30, 0.20),
    # TUMOR: A01 has a baseline only (no pair); A02, A03 unchanged -> all CHG 0.
    ("A01", "S1", BL, "2026-01-01", "TUMOR", 0.60, 0.60, None),
    ("A02", "S3", BL, "2026-01-01", "TUMOR", 0.50, 0.50, None),
    ("A02", "S4", ON, "2026-02-01", "TUMOR", 0.50, 0.50, 0.0),
    ("A03", "S5", BL, "2026-01-01", "TUMOR", 0.40, 0.40, None),
    ("A03", "S6", ON, "2026-02-01", "TUMOR", 0.40, 0.40, 0.0),
]
# (USUBJID, GENE, BASE, POST): TCELL only, one baseline and one on-treatment sample each.
A_GF = [
    ("A01", "GZMB", 1.0, 2.0),
    ("A02", "GZMB", 2.0, 4.0),
    ("A03", "GZMB", 3.0, 6.0),  # d 1, 2, 3
    ("A01", "PDCD1", 1.0, 2.0),
    ("A02", "PDCD1", 3.0, 1.0),
    ("A03", "PDCD1", 1.0, 4.0),  # d 1, -2, 3
    ("A01", "CD8A", 1.0, 1.5),  # one pair
]


def insert(con, table, rows):
    columns = ADAM[table]
    con.execute(f"CREATE OR REPLACE TABLE adam.{table} (" + ", ".join(f'"{c}" {t}' for c, t in columns.items()) + ")")
    for row in rows:
        names = list(row)
        con.execute(
            f"INSERT INTO adam.{table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", list(row.values())
        )


def adsl_rows(study, flags):
    return [
        {
            "STUDYID": study,
            "USUBJID": f"{study}-{s}",
            "ITTFL": f[0],
            "SAFFL": f[1],
            "EFFFL": f[2],
            "ENRLDT": dt.date(2026, 1, 1),
        }
        for s, f in flags.items()
    ]


def cbor_rows(study, cbor):
    """CBOR records and the RSP/DCR records dbt derives from them (int_rs_subject_parameters)."""
    rows = []
    for s, v in cbor.items():
        usubjid = f"{study}-{s}"
        rows += [
            {"STUDYID": study, "USUBJID": usubjid, "PARAMCD": "CBOR", "AVALC": v},
            {"STUDYID": study, "USUBJID": usubjid, "PARAMCD": "RSP", "AVALC": "Y" if v in ("CR", "PR") else "N"},
            {"STUDYID": study, "USUBJID": usubjid, "PARAMCD": "DCR", "AVALC": "Y" if v in ("CR", "PR", "SD") else "N"},
        ]
    return rows


def gf_rows():
    rows = []
    for subj, gene, base, post in A_GF:
        common = {"STUDYID": "A", "USUBJID": f"A-{subj}", "CELLTYPE": "TCELL", "GENE": gene, "BASE": base}
        rows.append(
            common
            | {
                "GFREFID": f"{subj}-B",
                "VISIT": BL,
                "VISITNUM": 0,
                "ADT": dt.date(2026, 1, 1),
                "AVAL": base,
                "ABLFL": "Y",
            }
        )
        rows.append(
            common
            | {
                "GFREFID": f"{subj}-T",
                "VISIT": ON,
                "VISITNUM": 1,
                "ADT": dt.date(2026, 2, 1),
                "AVAL": post,
                "CHG": post - base,
            }
        )
    return rows


def build_warehouse(path, single_cell_tables=True):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA adam; CREATE SCHEMA config")
    con.execute("CREATE TABLE config.studies (STUDYID VARCHAR)")
    con.execute("INSERT INTO config.studies VALUES ('A'), ('B'), ('C')")
    insert(con, "adsl", adsl_rows("A", A_FLAGS) + adsl_rows("C", C_FLAGS))
    insert(con, "adrs", cbor_rows("A", A_CBOR) + cbor_rows("C", C_CBOR))
    insert(
        con,
        "adtte",
        [{"STUDYID": "A", "USUBJID": f"A-{s}", "PARAMCD": p, "AVAL": a, "CNSR": c} for s, p, a, c in A_TTE],
    )
    insert(
        con,
        "adae",
        [
            {
                "STUDYID": "A",
                "USUBJID": f"A-{s}",
                "AESEQ": q,
                "AEBODSYS": soc,
                "AEDECOD": term,
                "AETERM": term,
                "ATOXGR": str(g),
                "ATOXGRN": g,
                "AESER": ser,
                "AEACN": acn,
                "TRTEMFL": te,
                "ADRFL": adr,
            }
            for s, q, soc, term, g, ser, acn, te, adr in A_AE
        ],
    )
    if single_cell_tables:
        insert(
            con,
            "adcp",
            [
                {
                    "STUDYID": "A",
                    "USUBJID": f"A-{s}",
                    "CPREFID": ref,
                    "VISIT": v,
                    "VISITNUM": 0 if v == BL else 1,
                    "ADT": dt.date.fromisoformat(d),
                    "PARAMCD": code,
                    "AVAL": aval,
                    "BASE": base,
                    "CHG": chg,
                    "ABLFL": "Y" if v == BL else None,
                }
                for s, ref, v, d, code, aval, base, chg in A_CP
            ],
        )
        insert(con, "adgf", gf_rows())
    con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("wh") / "building.duckdb"
    build_warehouse(path)
    summary = compute_all(path)
    con = duckdb.connect(str(path), read_only=True)
    yield summary, con
    con.close()


def endpoint(con, study, name):
    cur = con.execute("SELECT * FROM analysis.endpoints WHERE STUDYID = ? AND ENDPOINT = ?", [study, name])
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=False)) for r in cur.fetchall()]
    assert len(rows) == 1
    return rows[0]


def test_every_study_gets_every_endpoint_row_in_order(warehouse):
    summary, con = warehouse
    assert summary.studies == ("A", "B", "C")
    for study in summary.studies:
        got = [
            r[0]
            for r in con.execute(
                "SELECT ENDPOINT FROM analysis.endpoints WHERE STUDYID = ? ORDER BY rowid", [study]
            ).fetchall()
        ]
        assert got == list(ENDPOINTS)
    assert summary.table_rows["endpoints"] == 3 * len(ENDPOINTS)


def test_output_column_types(warehouse):
    _, con = warehouse
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'analysis' AND table_name = 'endpoints'"
        ).fetchall()
    )
    assert types == {
        "STUDYID": "VARCHAR",
        "ARMCD": "VARCHAR",
        "ARM": "VARCHAR",
        "REF_ARMCD": "VARCHAR",
        "ENDPOINT": "VARCHAR",
        "POPULATION": "VARCHAR",
        "N": "BIGINT",
        "N_EVENTS": "BIGINT",
        "ESTIMATE": "DOUBLE",
        "LCL": "DOUBLE",
        "UCL": "DOUBLE",
        "UNIT": "VARCHAR",
        "METHOD": "VARCHAR",
    }


def test_pfs_km_median_lands_exactly_on_half(warehouse):
    # EFFFL PFS: 91 event (4 at risk, S=0.75), 91.3125 event (3 at risk, S=0.5),
    # 92 censored, 200 event (S=0). Median = 91.3125 days = 3.0 months, and the
    # 3-month KM rate (step at t inclusive) is 0.5.
    _, con = warehouse
    med = endpoint(con, "A", "PFS_MEDIAN")
    assert (med["POPULATION"], med["N"], med["N_EVENTS"], med["UNIT"], med["METHOD"]) == (
        "EFFFL",
        4,
        3,
        "months",
        "Kaplan-Meier log-log",
    )
    assert med["ESTIMATE"] == pytest.approx(3.0)
    rate = endpoint(con, "A", "PFS_RATE_3M_KM")
    assert (rate["ESTIMATE"], rate["UNIT"], rate["N"]) == (pytest.approx(0.5), "proportion", 4)
    assert rate["LCL"] < 0.5 < rate["UCL"]


def test_crude_rates_on_boundary_avals(warehouse):
    _, con = warehouse
    pfs = endpoint(con, "A", "PFS_RATE_3M")
    assert (pfs["POPULATION"], pfs["N"], pfs["N_EVENTS"], pfs["ESTIMATE"]) == ("EFFFL", 4, 2, 0.5)
    assert pfs["METHOD"] == "Clopper-Pearson exact"
    assert (pfs["LCL"], pfs["UCL"]) == pytest.approx((0.0676, 0.9324), abs=1e-4)  # exact CI of 2/4
    mort = endpoint(con, "A", "MORT_12M")
    assert (mort["POPULATION"], mort["N"], mort["N_EVENTS"], mort["ESTIMATE"]) == ("ITTFL", 6, 3, 0.5)


def test_os_km(warehouse):
    # ITT OS: 50 event (6 at risk, S=5/6), 100 censored, 365 (4 at risk, S=0.625),
    # 365.25 (3, S=0.4167), 366 (2, S=0.2083), 400 censored.
    _, con = warehouse
    med = endpoint(con, "A", "OS_MEDIAN")
    assert (med["N"], med["N_EVENTS"]) == (6, 4)
    assert med["ESTIMATE"] == pytest.approx(365.25 / 30.4375)  # 12.0 months
    rate = endpoint(con, "A", "OS_RATE_12M_KM")
    assert rate["ESTIMATE"] == pytest.approx(5 / 6 * 3 / 4 * 2 / 3)


def test_dor_not_reached_is_null(warehouse):
    _, con = warehouse
    dor = endpoint(con, "A", "DOR_MEDIAN")
    assert (dor["POPULATION"], dor["N"], dor["N_EVENTS"]) == ("RSP", 2, 0)
    assert (dor["ESTIMATE"], dor["LCL"], dor["UCL"]) == (None, None, None)


def test_response_rates(warehouse):
    # EFFFL CBOR: CR, PR, SD, PD (A04's PR is not EFFFL).
    _, con = warehouse
    expected = {"ORR": 2, "CRR": 1, "PRR": 1, "DCR": 3, "SD_RATE": 1}
    for name, k in expected.items():
        row = endpoint(con, "A", name)
        assert (row["POPULATION"], row["N"], row["N_EVENTS"], row["ESTIMATE"]) == ("EFFFL", 4, k, k / 4)


def test_ae_incidence_counts_each_safety_subject_once(warehouse):
    # SAFFL = A01 A02 A03 A04 A06. TEAEs: A01 headache G1 + G3 (related), hypertension G2;
    # A02 headache G2 serious (its G4 is pre-treatment); A03 diarrhoea G5 serious,
    # withdrawn, related. A05's event is not counted (not SAFFL).
    _, con = warehouse
    expected = {"AE_ANY": 3, "AE_G3": 2, "AE_SER": 2, "AE_DISC": 1, "AE_FATAL": 1, "ADR_ANY": 2, "ADR_G3": 2}
    for name, k in expected.items():
        row = endpoint(con, "A", name)
        assert (row["POPULATION"], row["N"], row["N_EVENTS"], row["ESTIMATE"]) == ("SAFFL", 5, k, k / 5), name


def test_ae_by_term_worst_grade_per_subject(warehouse):
    _, con = warehouse
    rows = con.execute(
        "SELECT AEDECOD, N_SUBJECTS_SAF, G1, G2, G3, G4, G5, ANY_GRADE, SERIOUS, RELATED "
        "FROM analysis.ae_by_term WHERE STUDYID = 'A' ORDER BY AEDECOD"
    ).fetchall()
    assert rows == [
        ("DIARRHOEA", 5, 0, 0, 0, 0, 1, 1, 1, 1),
        ("HEADACHE", 5, 0, 1, 1, 0, 0, 2, 1, 1),  # A01 worst 3 (not also 1), A02 worst 2
        ("HYPERTENSION", 5, 0, 1, 0, 0, 0, 1, 0, 0),
    ]


def test_study_without_subjects_has_null_estimates(warehouse):
    _, con = warehouse
    rows = con.execute("SELECT N, N_EVENTS, ESTIMATE, LCL, UCL FROM analysis.endpoints WHERE STUDYID = 'B'").fetchall()
    assert rows == [(0, 0, None, None, None)] * len(ENDPOINTS)


def test_study_without_responders(warehouse):
    _, con = warehouse
    orr = endpoint(con, "C", "ORR")
    assert (orr["N"], orr["N_EVENTS"], orr["ESTIMATE"], orr["LCL"]) == (2, 0, 0.0, 0.0)
    assert orr["UCL"] == pytest.approx(1 - 0.025**0.5)  # 0.8419
    dor = endpoint(con, "C", "DOR_MEDIAN")
    assert (dor["N"], dor["ESTIMATE"]) == (0, None)
    ae_any = endpoint(con, "C", "AE_ANY")
    assert (ae_any["N"], ae_any["N_EVENTS"], ae_any["ESTIMATE"]) == (2, 0, 0.0)
    assert con.execute("SELECT count(*) FROM analysis.celltype_change WHERE STUDYID = 'C'").fetchall() == [(0,)]


def test_km_curves(warehouse):
    _, con = warehouse
    rows = con.execute(
        "SELECT TIME * 30.4375, SURVIVAL, AT_RISK, EVENTS, CENSORED FROM analysis.km_curves "
        "WHERE STUDYID = 'A' AND PARAMCD = 'PFS' ORDER BY TIME"
    ).fetchall()
    assert [(round(t, 4), round(s, 6), n, e, c) for t, s, n, e, c in rows] == [
        (0.0, 1.0, 4, 0, 0),
        (91.0, 0.75, 4, 1, 0),
        (91.3125, 0.5, 3, 1, 0),
        (92.0, 0.5, 2, 0, 1),
        (200.0, 0.0, 1, 1, 0),
    ]
    per_param = dict(
        con.execute("SELECT PARAMCD, count(*) FROM analysis.km_curves WHERE STUDYID = 'A' GROUP BY PARAMCD").fetchall()
    )
    assert per_param == {"PFS": 5, "OS": 7, "DOR": 3}
    assert con.execute("SELECT count(*) FROM analysis.km_curves WHERE STUDYID <> 'A'").fetchall() == [(0,)]


def test_celltype_change(warehouse):
    _, con = warehouse
    rows = con.execute(
        "SELECT CPTESTCD, N_PAIRS, MEDIAN_BASE, MEDIAN_POST, MEDIAN_CHG, P_WILCOXON "
        "FROM analysis.celltype_change ORDER BY CPTESTCD"
    ).fetchall()
    endoth, tumor = rows
    # ENDOTH: three negative differences -> exact two-sided p = 2 * 1/8.
    assert endoth == ("ENDOTH", 3, pytest.approx(0.20), pytest.approx(0.12), pytest.approx(-0.08), pytest.approx(0.25))
    # TUMOR: two pairs, every difference zero -> no test.
    assert tumor == ("TUMOR", 2, pytest.approx(0.45), pytest.approx(0.45), 0.0, None)


def test_gene_change_with_bh(warehouse):
    _, con = warehouse
    rows = con.execute(
        "SELECT GENE, N_PAIRS, MEAN_PRE, MEAN_POST, MEAN_DIFF, P_WILCOXON, Q_BH "
        "FROM analysis.gene_change WHERE STUDYID = 'A' ORDER BY GENE"
    ).fetchall()
    # GZMB d = 1, 2, 3: p = 2/8 = 0.25. PDCD1 d = 1, -2, 3: W- = 2, P(W <= 2) = 3/8,
    # p = 0.75. CD8A: one pair, no p. BH over m = 2: 0.25*2/1 = 0.5, 0.75*2/2 = 0.75.
    assert rows == [
        ("CD8A", 1, 1.0, 1.5, 0.5, None, None),
        ("GZMB", 3, 2.0, 4.0, 2.0, pytest.approx(0.25), pytest.approx(0.5)),
        (
            "PDCD1",
            3,
            pytest.approx(5 / 3),
            pytest.approx(7 / 3),
            pytest.approx(2 / 3),
            pytest.approx(0.75),
            pytest.approx(0.75),
        ),
    ]


def test_rerun_replaces_tables(tmp_path):
    path = tmp_path / "w.duckdb"
    build_warehouse(path)
    first = compute_all(path)
    second = compute_all(path)
    assert first == second


def test_empty_adam_and_no_single_cell_tables(tmp_path):
    """Tables present but empty, adcp/adgf absent: endpoints still complete, others empty."""
    path = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA adam; CREATE SCHEMA config; CREATE TABLE config.studies (STUDYID VARCHAR)")
    con.execute("INSERT INTO config.studies VALUES ('X')")
    for table in ("adsl", "adrs", "adtte", "adae"):
        insert(con, table, [])
    con.close()
    summary = compute_all(path)
    assert summary.table_rows == {
        "endpoints": len(ENDPOINTS),
        "km_curves": 0,
        "ae_by_term": 0,
        "ae_by_soc": 1,  # the any-TEAE row (0 of N = 0): every study has one
        "celltype_change": 0,
        "gene_change": 0,
    }
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM analysis.endpoints WHERE N = 0 AND ESTIMATE IS NULL").fetchall() == [(19,)]
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'analysis' AND table_name = 'gene_change'"
        ).fetchall()
    )
    assert types["Q_BH"] == "DOUBLE" and types["N_PAIRS"] == "BIGINT"
    con.close()


def test_missing_required_adam_table_is_an_error(tmp_path):
    from trialdw.endpoints._db import MissingAdamTable

    path = tmp_path / "broken.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(MissingAdamTable, match=r"adam\.adsl"):
        compute_all(path)
