"""The column rules the ADaM and data-review ymls declare beside each column
(``meta: {not_null: true}``, ``meta: {accepted_values: [...]}``) are checked
by one dbt test per model, ``meets_column_specs``: real files, real dbt."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from trialdw.synth import generate

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
RULES = {"not_null", "accepted_values"}


def test_every_model_declaring_column_rules_has_the_test_that_checks_them():
    """A rule in a column's meta is only checked when its model runs
    meets_column_specs: a model that declares one without the test would
    silently check nothing."""
    from trialdw.project import parse_yaml

    declaring, tested = set(), set()
    for path in MODELS.rglob("*.yml"):
        for model in (parse_yaml(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            if any(RULES & set(column.get("meta") or {}) for column in model.get("columns") or []):
                declaring.add(model["name"])
            if "meets_column_specs" in (model.get("data_tests") or []):
                tested.add(model["name"])
    assert declaring == tested
    assert declaring == {"adae", "adcp", "adgf", "adrs", "adsl", "adtte", "data_review_findings"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The seed studies (4 subjects each) loaded and built once: the build file and its session."""
    from trialdw.dbt_runner import DbtSession
    from trialdw.ingest import ingest_landing
    from trialdw.ingest.contracts import load_contracts
    from trialdw.study_build import prepare_build_file
    from trialdw.study_config import load_studies

    root = tmp_path_factory.mktemp("column-specs")
    generate(root / "landing", seed=9, subjects=4)
    history_path = root / "history-store.duckdb"  # not history.duckdb: the catalog would share the schema's name
    studies, contracts = load_studies(), load_contracts()
    with duckdb.connect(str(history_path)) as con:
        ingest_landing(con, root / "landing", studies, root / "work", "run", contracts)
    build_file = root / "build" / "build.duckdb"
    prepare_build_file(history_path, build_file, studies, contracts)
    session = DbtSession()
    result = session.build(build_file, nightly=True)
    assert result.success, result.failures
    yield build_file, session, result
    session.close()


def test_a_night_checks_every_declared_rule_in_one_test_per_model(built):
    _, _, result = built
    # 7 models declare rules: adsl, adae, adcp, adgf, adrs, adtte, data_review_findings.
    assert result.tests_failed == 0 and result.tests_passed == 70


def test_broken_rules_fail_their_model_with_one_row_per_rule_and_value(built):
    """Planted in the built tables, then only the spec tests run again.
    First, downstream of adsl:
    - adtte: CNSR 2 on two records (one value) -> 1 row;
    - data_review.findings (the model's alias): RULE 'bogus' -> 1 row;
    - the other five models are untouched and pass.
    Then adsl (dbt build skips the tests of models below a failing one):
    - ECOG 7 (not in 0-4) and one ITTFL NULL -> 2 rows; a NULL ECOG is no
      violation (accepted_values judges values, not_null judges NULLs)."""
    build_file, session, _ = built
    with duckdb.connect(str(build_file)) as con:
        con.execute("UPDATE adam.adtte SET CNSR = 2 WHERE rowid IN (SELECT rowid FROM adam.adtte ORDER BY ALL LIMIT 2)")
        con.execute(
            """INSERT INTO data_review.findings (STUDYID, SITEID, DOMAIN, USUBJID, RECORD_KEY, COLUMN_NAME, RULE,
                                               SEVERITY, MESSAGE)
               VALUES ('S', '101', 'DM', 'A', 'A', 'RFICDTC', 'bogus', 'warning', 'planted')"""
        )
    result = session.build(build_file, select="test_name:meets_column_specs", nightly=True)
    assert (result.tests_failed, result.tests_passed) == (2, 5), result.failures
    assert sorted(result.failures) == [
        "meets_column_specs_adtte_: Got 1 result, configured to fail if != 0",
        "meets_column_specs_data_review_findings_: Got 1 result, configured to fail if != 0",
    ]

    with duckdb.connect(str(build_file)) as con:
        ids = [u for (u,) in con.execute("SELECT USUBJID FROM adam.adsl ORDER BY USUBJID LIMIT 3").fetchall()]
        con.execute("UPDATE adam.adsl SET ECOG = 7 WHERE USUBJID = ?", [ids[0]])
        con.execute("UPDATE adam.adsl SET ITTFL = NULL WHERE USUBJID = ?", [ids[1]])
        con.execute("UPDATE adam.adsl SET ECOG = NULL WHERE USUBJID = ?", [ids[2]])
    result = session.build(build_file, select="test_name:meets_column_specs", nightly=True)
    assert "meets_column_specs_adsl_: Got 2 results, configured to fail if != 0" in result.failures
    # The failing rows say which column broke which rule, with which value.
    compiled = next((session.state_dir / "target" / "compiled").rglob("meets_column_specs_adsl_.sql"))
    with duckdb.connect(str(build_file), read_only=True) as con:
        con.execute("USE build")
        rows = con.execute(f"SELECT * FROM ({compiled.read_text()}) ORDER BY ALL").fetchall()
    assert rows == [("ECOG", "accepted_values", "7", 1), ("ITTFL", "not_null", None, 1)]
