"""Analyses by arm: compute_all on hand-made adam tables of a two-arm, a
three-arm and a single-arm study (config.study_arms as write_config_tables
writes it). Every comparison value is worked out by hand in the comments.
"""

import math

import duckdb
import pytest
from scipy.stats import norm

from trialdw.endpoints import COMPARISONS, ENDPOINTS, compute_all
from trialdw.endpoints.hazard_ratio import finite_estimate_exists, hazard_ratio
from trialdw.endpoints.logrank import logrank_p
from trialdw.endpoints.risk_difference import newcombe_difference

# R2: arms listed EXP then PBO, PBO marked reference (the study file's reference: true).
# R3: three arms, the first (A) is the reference by default. S1: one arm.
ARMS = [
    ("R2", "EXP", "Experimental", 1, False),
    ("R2", "PBO", "Placebo", 2, True),
    ("R3", "A", "Arm A", 1, True),
    ("R3", "B", "Arm B", 2, False),
    ("R3", "C", "Arm C", 3, False),
    ("S1", "ONLY", "The only arm", 1, True),
]

ADSL = "STUDYID VARCHAR, USUBJID VARCHAR, ARMCD VARCHAR, ARM VARCHAR, ITTFL VARCHAR, SAFFL VARCHAR, EFFFL VARCHAR"
ADRS = "STUDYID VARCHAR, USUBJID VARCHAR, PARAMCD VARCHAR, AVALC VARCHAR"
ADTTE = "STUDYID VARCHAR, USUBJID VARCHAR, PARAMCD VARCHAR, AVAL DOUBLE, CNSR INTEGER"
ADAE = (
    "STUDYID VARCHAR, USUBJID VARCHAR, AESEQ INTEGER, AEBODSYS VARCHAR, AEDECOD VARCHAR, ATOXGR VARCHAR, "
    "ATOXGRN INTEGER, AESER VARCHAR, AEACN VARCHAR, TRTEMFL VARCHAR, ADRFL VARCHAR"
)

# R2 PFS (days, event): PBO 20 event, 30 censored; EXP 10 event, 40 censored.
# Partial likelihood of x = HR(EXP vs PBO): at 10 all four at risk, EXP's event: x/(2 + 2x);
# at 20 PBO 20, 30 and EXP 40 at risk, PBO's event: 1/(2 + x). Score 0 ⇔ 1/(1 + x) = x/(2 + x)
# ⇔ x² = 2: HR = √2. Log-rank: O − E for EXP = 1 − 1/2 − 1/3 = 1/6, V = 1/4 + 2/9 = 17/36,
# χ² = (1/36)/(17/36) = 1/17 on 1 df.
R2_PFS = {"PBO-01": (20, 0), "PBO-02": (30, 1), "EXP-01": (10, 0), "EXP-02": (40, 1)}
# R2 OS: EXP has no event, so no finite HR; log-rank: at 50 four at risk, one PBO death:
# O − E for EXP = 0 − 1/2, V = 1/4, χ² = 1.
R2_OS = {"PBO-01": (50, 0), "PBO-02": (60, 1), "EXP-01": (70, 1), "EXP-02": (80, 1)}
# R2 CBOR: EXP 9 PR + 1 SD, PBO 3 PR + 2 SD + 5 PD (10 EFFFL subjects each).
R2_CBOR = {**{f"EXP-{i:02d}": "PR" for i in range(1, 10)}, "EXP-10": "SD"}
R2_CBOR |= {f"PBO-{i:02d}": v for i, v in enumerate(["PR"] * 3 + ["SD"] * 2 + ["PD"] * 5, start=1)}
# R2 TEAEs: EXP-01 GI NAUSEA G1 + GI VOMITING G3; EXP-02 SKIN RASH G2; PBO-01 GI NAUSEA G2.
R2_AE = [
    ("EXP-01", 1, "GI", "NAUSEA", 1),
    ("EXP-01", 2, "GI", "VOMITING", 3),
    ("EXP-02", 1, "SKIN", "RASH", 2),
    ("PBO-01", 1, "GI", "NAUSEA", 2),
]


def _subjects(study, armcds):
    return [f"{armcd}-{i:02d}" for armcd in armcds for i in range(1, 11)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("arms") / "building.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA adam; CREATE SCHEMA config")
    con.execute("CREATE TABLE config.studies (STUDYID VARCHAR)")
    con.execute("INSERT INTO config.studies VALUES ('R2'), ('R3'), ('S1')")
    con.execute(
        "CREATE TABLE config.study_arms (STUDYID VARCHAR, ARMCD VARCHAR, ARM VARCHAR, ARMN INTEGER, REFERENCE BOOLEAN)"
    )
    con.executemany("INSERT INTO config.study_arms VALUES (?, ?, ?, ?, ?)", ARMS)
    for name, ddl in (("adsl", ADSL), ("adrs", ADRS), ("adtte", ADTTE), ("adae", ADAE)):
        con.execute(f"CREATE TABLE adam.{name} ({ddl})")
    names = {(s, a): n for s, a, n, _, _ in ARMS}
    for study, armcds in (("R2", ("EXP", "PBO")), ("R3", ("A", "B", "C")), ("S1", ("ONLY",))):
        for subject in _subjects(study, armcds):
            armcd = subject.split("-")[0]
            con.execute(
                "INSERT INTO adam.adsl VALUES (?, ?, ?, ?, 'Y', 'Y', 'Y')",
                [study, f"{study}-{subject}", armcd, names[(study, armcd)]],
            )
    for subject, (days, cnsr) in R2_PFS.items():
        con.execute("INSERT INTO adam.adtte VALUES ('R2', ?, 'PFS', ?, ?)", [f"R2-{subject}", days, cnsr])
    for subject, (days, cnsr) in R2_OS.items():
        con.execute("INSERT INTO adam.adtte VALUES ('R2', ?, 'OS', ?, ?)", [f"R2-{subject}", days, cnsr])
    for subject, cbor in R2_CBOR.items():
        rsp, dcr = ("Y" if cbor in ("CR", "PR") else "N"), ("Y" if cbor in ("CR", "PR", "SD") else "N")
        for paramcd, value in (("CBOR", cbor), ("RSP", rsp), ("DCR", dcr)):
            con.execute("INSERT INTO adam.adrs VALUES ('R2', ?, ?, ?)", [f"R2-{subject}", paramcd, value])
    for subject, seq, soc, pt, grade in R2_AE:
        con.execute(
            "INSERT INTO adam.adae VALUES ('R2', ?, ?, ?, ?, ?, ?, 'N', NULL, 'Y', NULL)",
            [f"R2-{subject}", seq, soc, pt, str(grade), grade],
        )
    # R3: OS, 10 subjects per arm, days 10·i (+5 for B, +7 for C), every third censored.
    for armcd, shift in (("A", 0), ("B", 5), ("C", 7)):
        for i in range(1, 11):
            con.execute(
                "INSERT INTO adam.adtte VALUES ('R3', ?, 'OS', ?, ?)",
                [f"R3-{armcd}-{i:02d}", 10 * i + shift, 1 if i % 3 == 0 else 0],
            )
    # S1: the same PFS as R2 would give a single group.
    for i, (days, cnsr) in enumerate([(10, 0), (20, 0), (30, 1)], start=1):
        con.execute("INSERT INTO adam.adtte VALUES ('S1', ?, 'PFS', ?, ?)", [f"S1-ONLY-{i:02d}", days, cnsr])
    con.close()
    summary = compute_all(path)
    con = duckdb.connect(str(path), read_only=True)
    yield summary, con
    con.close()


def rows(con, sql, params=()):
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_row_layout_all_subjects_then_each_arm_then_the_comparisons(warehouse):
    summary, con = warehouse
    assert summary.errors == {}
    got = [
        (r["ARMCD"], r["ENDPOINT"])
        for r in rows(con, "SELECT ARMCD, ENDPOINT FROM analysis.endpoints WHERE STUDYID = 'R2' ORDER BY rowid")
    ]
    expected = [(None, e) for e in ENDPOINTS] + [(a, e) for a in ("EXP", "PBO") for e in ENDPOINTS]
    expected += [(None if c.endswith("LOGRANK_P") else "EXP", c) for c in COMPARISONS]
    assert got == expected
    # three arms: one HR / difference row per non-reference arm, one log-rank test over all arms
    r3 = [
        (r["ARMCD"], r["REF_ARMCD"])
        for r in rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R3' AND ENDPOINT = 'OS_HR'")
    ]
    assert r3 == [("B", "A"), ("C", "A")]
    assert (
        len(rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R3'"))
        == 4 * len(ENDPOINTS) + 2 * 2 + 2 + 2 * 2
    )


def test_single_arm_study_keeps_exactly_its_rows(warehouse):
    _, con = warehouse
    s1 = rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'S1' ORDER BY rowid")
    assert [r["ENDPOINT"] for r in s1] == list(ENDPOINTS)
    assert {(r["ARMCD"], r["ARM"], r["REF_ARMCD"]) for r in s1} == {(None, None, None)}
    curves = rows(con, "SELECT DISTINCT ARMCD, ARM FROM analysis.km_curves WHERE STUDYID = 'S1'")
    assert curves == [{"ARMCD": None, "ARM": None}]


def test_per_arm_rows_count_each_arms_subjects(warehouse):
    _, con = warehouse
    orr = {
        r["ARMCD"]: r for r in rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R2' AND ENDPOINT = 'ORR'")
    }
    assert (orr[None]["N"], orr[None]["N_EVENTS"]) == (20, 12)
    assert (orr["EXP"]["ARM"], orr["EXP"]["N"], orr["EXP"]["N_EVENTS"]) == ("Experimental", 10, 9)
    assert (orr["PBO"]["ARM"], orr["PBO"]["N"], orr["PBO"]["N_EVENTS"]) == ("Placebo", 10, 3)
    curves = rows(
        con,
        "SELECT ARMCD, max(AT_RISK) AS N FROM analysis.km_curves WHERE STUDYID = 'R2' AND PARAMCD = 'PFS' GROUP BY ALL",
    )
    assert {r["ARMCD"]: r["N"] for r in curves} == {None: 4, "EXP": 2, "PBO": 2}


def test_hazard_ratio_is_root_two_and_log_rank_is_one_seventeenth(warehouse):
    _, con = warehouse
    (hr,) = rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R2' AND ENDPOINT = 'PFS_HR'")
    assert (hr["ARMCD"], hr["REF_ARMCD"], hr["POPULATION"], hr["N"], hr["N_EVENTS"]) == ("EXP", "PBO", "EFFFL", 4, 2)
    assert hr["ESTIMATE"] == pytest.approx(math.sqrt(2), rel=1e-12)
    # Wald: SE² = 1 / information; information at x = √2: x/(1+x)² + 2x/(2+x)²... = 0.3431
    information = math.sqrt(2) / (1 + math.sqrt(2)) ** 2 + 2 * math.sqrt(2) / (2 + math.sqrt(2)) ** 2
    half = norm.ppf(0.975) / math.sqrt(information)
    assert (hr["LCL"], hr["UCL"]) == pytest.approx(
        (math.sqrt(2) * math.exp(-half), math.sqrt(2) * math.exp(half)), rel=1e-10
    )
    assert (hr["UNIT"], hr["METHOD"]) == ("hazard ratio", "Cox PH, Efron ties, Wald 95% CI")
    (lr,) = rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R2' AND ENDPOINT = 'PFS_LOGRANK_P'")
    assert (lr["ARMCD"], lr["REF_ARMCD"], lr["N"], lr["N_EVENTS"], lr["LCL"], lr["UCL"]) == (
        None,
        None,
        4,
        2,
        None,
        None,
    )
    assert lr["ESTIMATE"] == pytest.approx(2 * norm.sf(math.sqrt(1 / 17)), rel=1e-12)
    assert (lr["UNIT"], lr["METHOD"]) == ("p-value", "Log-rank test, 2 arms, chi-square 1 df")


def test_no_event_in_one_arm_gives_no_hazard_ratio_but_a_log_rank_p(warehouse):
    _, con = warehouse
    (hr,) = rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R2' AND ENDPOINT = 'OS_HR'")
    assert (hr["N"], hr["N_EVENTS"], hr["ESTIMATE"], hr["LCL"], hr["UCL"]) == (4, 1, None, None, None)
    (lr,) = rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R2' AND ENDPOINT = 'OS_LOGRANK_P'")
    assert lr["ESTIMATE"] == pytest.approx(2 * norm.sf(1.0), rel=1e-12)  # χ² = 1 on 1 df


def test_difference_in_response_rates_with_newcombes_interval(warehouse):
    _, con = warehouse
    diff = {
        r["ENDPOINT"]: r
        for r in rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R2' AND ENDPOINT LIKE '%_DIFF'")
    }
    orr = diff["ORR_DIFF"]
    # 9/10 vs 3/10: Newcombe (1998) table II, method 10: 0.6 (0.1705, 0.8090)
    assert (orr["ARMCD"], orr["REF_ARMCD"], orr["N"], orr["N_EVENTS"]) == ("EXP", "PBO", 20, 12)
    assert (orr["ESTIMATE"], round(orr["LCL"], 4), round(orr["UCL"], 4)) == (pytest.approx(0.6), 0.1705, 0.8090)
    assert (orr["UNIT"], orr["METHOD"]) == ("difference in proportions", "Newcombe hybrid score 95% CI")
    dcr = diff["DCR_DIFF"]  # 10/10 vs 5/10
    assert (dcr["N_EVENTS"], dcr["ESTIMATE"]) == (15, pytest.approx(0.5))
    assert (dcr["LCL"], dcr["UCL"]) == pytest.approx(newcombe_difference(10, 10, 5, 10)[1:])


def test_three_arms_pairwise_hazard_ratios_on_two_arm_subsets_and_a_global_log_rank(warehouse):
    _, con = warehouse
    days = {a: [10 * i + s for i in range(1, 11)] for a, s in (("A", 0), ("B", 5), ("C", 7))}
    event = [0 if i % 3 == 0 else 1 for i in range(1, 11)]
    for arm in ("B", "C"):
        (row,) = rows(
            con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R3' AND ENDPOINT = 'OS_HR' AND ARMCD = ?", [arm]
        )
        alone = hazard_ratio(days["A"] + days[arm], event * 2, [False] * 10 + [True] * 10)
        assert (row["N"], row["N_EVENTS"]) == (20, 14)
        assert (row["ESTIMATE"], row["LCL"], row["UCL"]) == pytest.approx(alone, rel=1e-12)
    (lr,) = rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R3' AND ENDPOINT = 'OS_LOGRANK_P'")
    assert lr["METHOD"] == "Log-rank test, 3 arms, chi-square 2 df" and (lr["N"], lr["N_EVENTS"]) == (30, 21)
    expected = logrank_p(days["A"] + days["B"] + days["C"], event * 3, ["A"] * 10 + ["B"] * 10 + ["C"] * 10)
    assert lr["ESTIMATE"] == pytest.approx(expected, rel=1e-12)
    # no PFS data at all: the comparison rows are there, with N = 0 and no estimate
    (pfs,) = rows(con, "SELECT * FROM analysis.endpoints WHERE STUDYID = 'R3' AND ENDPOINT = 'PFS_LOGRANK_P'")
    assert (pfs["N"], pfs["ESTIMATE"]) == (0, None)


def test_ae_tables_by_arm_with_soc_and_any_teae_rows(warehouse):
    _, con = warehouse
    soc = rows(con, "SELECT * FROM analysis.ae_by_soc WHERE STUDYID = 'R2' ORDER BY rowid")
    got = [(r["ARMCD"], r["AEBODSYS"], r["N_SUBJECTS_SAF"], r["ANY_GRADE"], r["G1"], r["G2"], r["G3"]) for r in soc]
    assert got == [
        (None, None, 20, 3, 0, 2, 1),  # any TEAE: EXP-01 at worst grade 3, EXP-02 and PBO-01 at 2
        (None, "GI", 20, 2, 0, 1, 1),  # EXP-01 once (worst 3), PBO-01 (2)
        (None, "SKIN", 20, 1, 0, 1, 0),
        ("EXP", None, 10, 2, 0, 1, 1),
        ("EXP", "GI", 10, 1, 0, 0, 1),
        ("EXP", "SKIN", 10, 1, 0, 1, 0),
        ("PBO", None, 10, 1, 0, 1, 0),
        ("PBO", "GI", 10, 1, 0, 1, 0),
    ]
    term = rows(
        con,
        "SELECT ARMCD, ARM, AEDECOD, N_SUBJECTS_SAF, ANY_GRADE FROM analysis.ae_by_term "
        "WHERE STUDYID = 'R2' AND AEDECOD = 'NAUSEA'",
    )
    assert [(r["ARMCD"], r["ARM"], r["N_SUBJECTS_SAF"], r["ANY_GRADE"]) for r in term] == [
        (None, None, 20, 2),
        ("EXP", "Experimental", 10, 1),
        ("PBO", "Placebo", 10, 1),
    ]
    # a study with no AE still has its any-TEAE row, per arm too: the table's N
    assert rows(
        con, "SELECT ARMCD, N_SUBJECTS_SAF, ANY_GRADE FROM analysis.ae_by_soc WHERE STUDYID = 'R3' ORDER BY rowid"
    ) == [{"ARMCD": a, "N_SUBJECTS_SAF": n, "ANY_GRADE": 0} for a, n in ((None, 30), ("A", 10), ("B", 10), ("C", 10))]


def test_finite_hazard_ratio_needs_an_informative_event_in_each_arm():
    # experimental events only at times when no reference subject is at risk any more: monotone likelihood
    assert not finite_estimate_exists([5, 10, 20, 30], [1, 0, 1, 1], [False, False, True, True])
    assert finite_estimate_exists([5, 10, 8, 30], [1, 0, 1, 1], [False, False, True, True])
    assert hazard_ratio([], [], []) == (None, None, None)
    assert logrank_p([10, 20], [1, 1], ["A", "A"]) is None  # one group: no test


def test_studies_shared_over_processes_give_the_tables_of_one_process(warehouse, tmp_path, monkeypatch):
    """The three studies above were computed in shares across processes
    (trialdw.parallel, two cores); computed again in this process alone, every
    analysis table is the same, row for row."""
    import shutil

    from trialdw import parallel

    summary, con = warehouse
    copy = tmp_path / "alone.duckdb"
    shutil.copy(con.execute("SELECT path FROM duckdb_databases() WHERE NOT internal").fetchone()[0], copy)
    monkeypatch.setattr(parallel, "MIN_ITEMS", 99)
    alone = compute_all(copy)
    assert alone.studies == summary.studies == ("R2", "R3", "S1") and alone.errors == {}
    assert alone.table_rows == summary.table_rows
    con.execute(f"ATTACH '{copy}' AS alone (READ_ONLY)")
    try:
        for table in summary.table_rows:
            differ = con.execute(
                f"SELECT count(*) FROM ((FROM analysis.{table} EXCEPT ALL FROM alone.analysis.{table}) "
                f"UNION ALL (FROM alone.analysis.{table} EXCEPT ALL FROM analysis.{table}))"
            ).fetchone()[0]
            assert differ == 0, table
    finally:
        con.execute("DETACH alone")
