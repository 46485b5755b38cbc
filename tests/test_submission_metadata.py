"""The dbt ymls as the one place of dataset and variable metadata (trialdw.submission.metadata).

Fast checks on the real ymls; tests/test_submission_night.py walks the tables
of a real night and fails on any column without a label and a description.
"""

from pathlib import Path

import duckdb
import pytest

from trialdw.endpoints import (
    AE_BY_SOC_COLUMNS,
    AE_BY_TERM_COLUMNS,
    CELLTYPE_CHANGE_COLUMNS,
    ENDPOINTS_COLUMNS,
    GENE_CHANGE_COLUMNS,
    KM_CURVES_COLUMNS,
)
from trialdw.publish import apply_comments
from trialdw.study_build import SINGLE_CELL_TAG
from trialdw.submission.metadata import MAX_LABEL, adam_models_tagged, load_catalog, missing_metadata, xpt_label

DEFINE_CLASSES = {  # Define-XML 2.1 ItemGroupClass values for ADaM (define-enumerations.xsd)
    "ADAM OTHER",
    "BASIC DATA STRUCTURE",
    "OCCURRENCE DATA STRUCTURE",
    "SUBJECT LEVEL ANALYSIS DATASET",
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_adam_dataset_has_its_define_xml_metadata(catalog):
    adam = {t: m for (s, t), m in catalog.items() if s == "adam"}
    assert set(adam) >= {"adsl", "adrs", "adtte", "adae", "adcp", "adgf"}
    for table, meta in adam.items():
        assert meta.label and len(meta.label) <= MAX_LABEL, table
        assert meta.define_class in DEFINE_CLASSES, table
        assert meta.structure and meta.description, table
        assert meta.keys and set(meta.keys) <= set(meta.columns), (table, meta.keys)
    assert adam["adsl"].keys == ("STUDYID", "USUBJID")
    assert adam["adrs"].keys == ("STUDYID", "USUBJID", "ASEQ")  # ASEQ: unique per subject
    assert adam["adtte"].subclass == "TIME-TO-EVENT" and adam["adae"].subclass == "ADVERSE EVENT"
    assert adam["adcp"].study_flag == adam["adgf"].study_flag == "SINGLE_CELL"


def test_the_single_cell_tag_marks_exactly_the_adam_tables_for_single_cell_studies(catalog):
    """The tables a build without the single-cell models does not make (the tag, read
    from dbt_project.yml) are those the metadata gives only to single-cell studies."""
    flagged = tuple(sorted(t for (s, t), meta in catalog.items() if s == "adam" and meta.study_flag == "SINGLE_CELL"))
    assert adam_models_tagged(SINGLE_CELL_TAG) == flagged == ("adcp", "adgf")
    assert adam_models_tagged("no_such_tag") == ()


def test_every_yml_column_has_a_label_of_at_most_40_characters_and_a_description(catalog):
    for (schema, table), meta in catalog.items():
        assert meta.label and meta.description, f"{schema}.{table}"
        for name, column in meta.columns.items():
            assert column.label and len(column.label) <= MAX_LABEL, f"{schema}.{table}.{name}"
            assert column.description, f"{schema}.{table}.{name} has no description"


def test_analysis_yml_describes_exactly_the_columns_the_endpoints_write(catalog):
    """The analysis tables' types live with the code that writes them; their labels
    and descriptions in dbt_project/models/analysis/analysis.yml. They must agree."""
    contracts = {
        "endpoints": ENDPOINTS_COLUMNS,
        "km_curves": KM_CURVES_COLUMNS,
        "ae_by_term": AE_BY_TERM_COLUMNS,
        "ae_by_soc": AE_BY_SOC_COLUMNS,
        "celltype_change": CELLTYPE_CHANGE_COLUMNS,
        "gene_change": GENE_CHANGE_COLUMNS,
    }
    analysis = {t: m for (s, t), m in catalog.items() if s == "analysis"}
    assert set(analysis) == set(contracts)
    for table, columns in contracts.items():
        assert list(analysis[table].columns) == list(columns), table
    assert analysis["celltype_change"].study_flag == analysis["gene_change"].study_flag == "SINGLE_CELL"


def test_predecessor_variables_name_their_source(catalog):
    adsl = catalog[("adam", "adsl")].columns
    assert adsl["SEX"].predecessor == "DM.SEX"
    assert adsl["TRTSDT"].predecessor is None  # derived: a MethodDef carries its description
    assert catalog[("adam", "adcp")].columns["ADT"].predecessor == "CP.CPDT"


@pytest.mark.parametrize(
    "text",
    [
        "Cell-type proportions per single-cell sample, one row per sample x cell type.",
        "Gene expression per single-cell sample x cell type x gene, with baseline and change.",
        "Supercalifragilisticexpialidocious-and-then-some-more-characters label",
        "A b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc",
    ],
)
def test_a_label_from_a_description_never_ends_inside_a_word(text):
    label = xpt_label(text)
    if label is not None:
        assert len(label) <= MAX_LABEL
        words = text.replace(",", " ").split()
        assert label.split()[-1].rstrip(",") in words, label


def test_missing_metadata_names_tables_and_columns_without_label_or_description(catalog):
    assert missing_metadata(catalog, "adam", "adsl", ["STUDYID", "AGE"]) == []
    assert missing_metadata(catalog, "adam", "adsl", ["NEWVAR"]) == ["adam.adsl.NEWVAR"]
    assert missing_metadata(catalog, "adam", "adxx", ["STUDYID"]) == ["adam.adxx", "adam.adxx.STUDYID"]


def test_apply_comments_writes_yml_descriptions_as_duckdb_comments(tmp_path: Path, catalog):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("CREATE SCHEMA adam; CREATE SCHEMA analysis")
        con.execute("CREATE TABLE adam.adsl AS SELECT 'S1' AS STUDYID, 64 AS AGE, 1 AS NOT_IN_YML")
        con.execute("CREATE TABLE analysis.endpoints AS SELECT 'S1' AS STUDYID, 'ORR' AS ENDPOINT")
        assert apply_comments(con, catalog) == 6  # 2 tables, 4 described columns
        tables = dict(
            con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name IN ('adam', 'analysis')"
            ).fetchall()
        )
        columns = {
            (t, c): comment
            for t, c, comment in con.execute(
                "SELECT table_name, column_name, comment FROM duckdb_columns() "
                "WHERE schema_name IN ('adam', 'analysis')"
            ).fetchall()
        }
    assert tables["adsl"] == catalog[("adam", "adsl")].description
    assert tables["endpoints"] == catalog[("analysis", "endpoints")].description
    assert columns[("adsl", "AGE")] == "Age in years at consent."
    assert columns[("endpoints", "ENDPOINT")].startswith("Endpoint code")
    assert columns[("adsl", "NOT_IN_YML")] is None
