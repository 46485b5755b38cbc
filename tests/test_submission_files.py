"""define.xml, Dataset-JSON and Parquet metadata written by write_exports, on a small real DuckDB file.

S1 is a single-cell study with data, S2 has no single-cell data (config
SINGLE_CELL false: no ADCP files at all), S3 is a single-cell study with no
rows yet (every file, empty). Metadata comes from a yml written here, so the
tests do not move when the project's descriptions are edited; the real ymls
and a real night are checked in test_submission_metadata.py and
test_submission_night.py.
"""

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest

from trialdw.exports import write_exports
from trialdw.submission.datasetjson import validator
from trialdw.submission.define import unresolved_references

RUN = "20261121T010000Z-abc121"

MODELS_YML = """
version: 2
models:
  - name: adsl
    description: Subject-level analysis dataset.
    meta:
      label: Subject-Level Analysis Dataset
      class: SUBJECT LEVEL ANALYSIS DATASET
      structure: One record per subject
    columns:
      - {name: STUDYID, description: DM.STUDYID as sent., meta: {label: Study Identifier}}
      - name: USUBJID
        description: DM.USUBJID as sent.
        data_tests: [unique]
        meta: {label: Unique Subject Identifier, not_null: true}
      - {name: AGE, description: Age in years at consent., meta: {label: Age, not_null: true}}
      - {name: TRTSDT, description: First EXSTDTC., meta: {label: Date of First Exposure to Treatment}}
      - {name: AFPBL, description: Baseline AFP., meta: {label: Baseline AFP (ng/mL)}}
      - name: SAFFL
        description: Y when dosed, else N.
        meta: {label: Safety Population Flag, accepted_values: ["Y", "N"]}
  - name: adrs
    description: Response analysis dataset.
    meta:
      label: Response Analysis Dataset
      class: BASIC DATA STRUCTURE
      structure: One record per subject per parameter per date
    data_tests:
      - unique_combination:
          arguments: {columns: [STUDYID, USUBJID, PARAMCD, ADT]}
    columns:
      - {name: STUDYID, description: ADSL.STUDYID., meta: {label: Study Identifier}}
      - {name: USUBJID, description: ADSL.USUBJID., meta: {label: Unique Subject Identifier}}
      - name: PARAMCD
        description: OVR per assessment, BOR once.
        data_tests:
          - accepted_values:
              arguments: {values: ["OVR", "BOR", "CBOR"]}
        meta: {label: Parameter Code}
      - {name: PARAM, description: Parameter text., meta: {label: Parameter}}
      - name: AVALC
        description: Response.
        data_tests:
          - accepted_values:
              arguments: {values: ["CR", "PR", "SD", "PD", "NE"]}
        meta: {label: Analysis Value (C)}
      - {name: AVAL, description: CR 1 ... NE 6., meta: {label: Analysis Value}}
      - {name: ADT, description: Assessment date., meta: {label: Analysis Date}}
  - name: adcp
    description: Cell-type proportions.
    meta:
      label: Cell-Type Proportions Analysis Dataset
      class: BASIC DATA STRUCTURE
      structure: One record per sample per cell type
      study_flag: SINGLE_CELL
    columns:
      - {name: STUDYID, description: CP.STUDYID as sent., meta: {label: Study Identifier}}
      - {name: USUBJID, description: CP.USUBJID as sent., meta: {label: Unique Subject Identifier}}
      - {name: PARAMCD, description: CP.CPTESTCD as sent., meta: {label: Parameter Code}}
      - {name: AVAL, description: Proportion of the cells., meta: {label: Analysis Value}}
"""


def _build(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            CREATE SCHEMA config; CREATE SCHEMA adam; CREATE SCHEMA analysis;
            CREATE TABLE config.studies (STUDYID VARCHAR, TITLE VARCHAR, SINGLE_CELL BOOLEAN);
            INSERT INTO config.studies VALUES ('S1', 'One & <only>', true), ('S2', 'Two', false), ('S3', 'Three', true);
            CREATE TABLE adam.adsl (STUDYID VARCHAR, USUBJID VARCHAR, AGE INTEGER, TRTSDT DATE, AFPBL DOUBLE,
                                    SAFFL VARCHAR);
            INSERT INTO adam.adsl VALUES
                ('S1', 'S1-001', 64, DATE '2026-01-05', 12.25, 'Y'),
                ('S1', 'S1-002', 71, NULL, NULL, 'N'),
                ('S2', 'S2-001', 55, DATE '1959-12-31', 400.5, 'Y');
            CREATE TABLE adam.adrs (STUDYID VARCHAR, USUBJID VARCHAR, PARAMCD VARCHAR, PARAM VARCHAR,
                                    AVALC VARCHAR, AVAL DOUBLE, ADT DATE);
            INSERT INTO adam.adrs VALUES
                ('S1', 'S1-001', 'OVR', '<b>Overall</b> Response & more', 'PR', 2, DATE '2026-02-01'),
                ('S1', 'S1-001', 'OVR', '<b>Overall</b> Response & more', 'SD', 3, DATE '2026-03-01'),
                ('S1', 'S1-001', 'BOR', 'Best Overall Response', 'PR', 2, DATE '2026-02-01'),
                ('S2', 'S2-001', 'OVR', '<b>Overall</b> Response & more', 'NE', 6, DATE '2026-02-02');
            CREATE TABLE adam.adcp (STUDYID VARCHAR, USUBJID VARCHAR, PARAMCD VARCHAR, AVAL DOUBLE);
            INSERT INTO adam.adcp VALUES ('S1', 'S1-001', 'TCELL', 0.125), ('S1', 'S1-001', 'BCELL', 0.875);
            CREATE TABLE analysis.endpoints (STUDYID VARCHAR, ENDPOINT VARCHAR, ESTIMATE DOUBLE);
            INSERT INTO analysis.endpoints VALUES ('S1', 'ORR', 0.5), ('S2', 'ORR', 1.0), ('S3', 'ORR', NULL);
            """
        )
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("submission")
    models = root / "models"
    models.mkdir()
    (models / "adam.yml").write_text(MODELS_YML, encoding="utf-8")
    db = _build(root / "trialdw.duckdb")
    summary = write_exports(db, root / "exports", RUN, models_dir=models)
    return {"summary": summary, "db": db, "root": root / "exports" / RUN}


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_study_without_single_cell_data_gets_no_adcp_file_of_any_kind(exported):
    root = exported["root"]
    assert not [f for f in _files(root / "S2") if "adcp" in f]
    assert "adcp.xpt" not in (root / "S2" / "define" / "define.xml").read_text()
    assert exported["summary"].skipped == ["S2/adam/adcp"]
    # a single-cell study without samples yet still gets the (empty) files
    assert {"adam/adcp.parquet", "xpt/adcp.xpt", "datasetjson/adcp.json"} <= set(_files(root / "S3"))
    assert json.loads((root / "S3" / "datasetjson" / "adcp.json").read_text())["records"] == 0


def test_define_xml_is_valid_against_the_define_xml_2_1_schema_and_its_references_resolve(exported):
    from defineutils.validate.validate import DefineSchemaValidator

    for study in ("S1", "S2", "S3"):
        path = exported["root"] / study / "define" / "define.xml"
        DefineSchemaValidator(path).validate_define_file()  # raises on any schema error
        assert unresolved_references(path) == [], study


def test_define_xml_describes_datasets_variables_codelists_and_parameters(exported):
    from lxml import etree

    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
    tree = etree.parse(str(exported["root"] / "S1" / "define" / "define.xml"))
    groups = {g.get("Name"): g for g in tree.iterfind(".//odm:ItemGroupDef", ns)}
    assert list(groups) == ["ADCP", "ADRS", "ADSL"]  # the exported tables, in export order
    assert groups["ADSL"].find("def:Class", ns).get("Name") == "SUBJECT LEVEL ANALYSIS DATASET"
    assert groups["ADSL"].find("def:leaf", ns).get("{http://www.w3.org/1999/xlink}href") == "../xpt/adsl.xpt"
    keys = {r.get("ItemOID"): r.get("KeySequence") for r in groups["ADRS"].iterfind("odm:ItemRef", ns)}
    assert [k for k, v in sorted(keys.items(), key=lambda kv: kv[1] or "9") if v] == [
        "IT.ADRS.STUDYID",
        "IT.ADRS.USUBJID",
        "IT.ADRS.PARAMCD",
        "IT.ADRS.ADT",
    ]
    items = {i.get("OID"): i for i in tree.iterfind(".//odm:ItemDef", ns)}
    assert items["IT.ADSL.USUBJID"].get("Length") == "6"  # longest value, bytes
    assert items["IT.ADSL.TRTSDT"].get("DataType") == "integer"
    assert items["IT.ADSL.TRTSDT"].get("{http://www.cdisc.org/ns/def/v2.1}DisplayFormat") == "DATE9."
    assert items["IT.ADSL.AFPBL"].get("DataType") == "float" and items["IT.ADSL.AFPBL"].get("SignificantDigits") == "2"
    origin = items["IT.ADSL.STUDYID"].find("def:Origin", ns)
    assert origin.get("Type") == "Predecessor"
    assert origin.findtext("odm:Description/odm:TranslatedText", namespaces=ns) == "DM.STUDYID"
    assert items["IT.ADSL.AGE"].find("def:Origin", ns).get("Type") == "Derived"
    methods = {m.get("OID"): m for m in tree.iterfind(".//odm:MethodDef", ns)}
    assert methods["MT.ADSL.AGE"].findtext("odm:Description/odm:TranslatedText", namespaces=ns) == (
        "Age in years at consent."
    )
    # Mandatory: a key, or a column whose spec says not_null (meta), else not.
    mandatory = {
        r.get("ItemOID"): r.get("Mandatory")
        for r in tree.iterfind(".//odm:ItemGroupDef[@OID='IG.ADSL']/odm:ItemRef", ns)
    }
    assert (mandatory["IT.ADSL.USUBJID"], mandatory["IT.ADSL.AGE"], mandatory["IT.ADSL.AFPBL"]) == ("Yes", "Yes", "No")
    codelists = {c.get("OID"): c for c in tree.iterfind(".//odm:CodeList", ns)}
    # tested values first, then any other value present
    paramcd = codelists["CL.ADRS.PARAMCD"]
    assert [i.get("CodedValue") for i in paramcd.iterfind("odm:EnumeratedItem", ns)] == ["OVR", "BOR", "CBOR"]
    assert [i.get("CodedValue") for i in codelists["CL.ADSL.SAFFL"].iterfind("odm:EnumeratedItem", ns)] == ["Y", "N"]
    # value-level metadata: AVALC and AVAL per PARAMCD present, each with a where clause
    value_list = tree.find(".//def:ValueListDef[@OID='VL.ADRS.AVALC']", ns)
    assert [r.get("ItemOID") for r in value_list.iterfind("odm:ItemRef", ns)] == [
        "IT.ADRS.AVALC.BOR",
        "IT.ADRS.AVALC.OVR",
    ]
    ovr = codelists["CL.ADRS.AVALC.OVR"]
    assert [i.get("CodedValue") for i in ovr.iterfind("odm:EnumeratedItem", ns)] == ["PR", "SD"]
    where = tree.find(".//def:WhereClauseDef[@OID='WC.ADRS.PARAMCD.OVR']/odm:RangeCheck", ns)
    assert where.get("Comparator") == "EQ" and where.findtext("odm:CheckValue", namespaces=ns) == "OVR"
    assert where.get("{http://www.cdisc.org/ns/def/v2.1}ItemOID") == "IT.ADRS.PARAMCD"


def test_define_html_renders_data_as_text(exported):
    html = (exported["root"] / "S1" / "define" / "define.html").read_text(encoding="utf-8")
    assert "ADaMIG 1.3" in html and "Subject-Level Analysis Dataset" in html
    assert "<b>Overall</b>" not in html and "&lt;b&gt;Overall&lt;/b&gt;" in html
    assert "&lt;only&gt;" in html and "<only>" not in html
    # nothing is loaded from elsewhere: the page opens from disk
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"'](https?:)?//", html)


def test_dataset_json_is_schema_valid_and_reads_back_as_the_table(exported):
    check = validator()
    with duckdb.connect(str(exported["db"]), read_only=True) as con:
        for study in ("S1", "S2", "S3"):
            for path in sorted((exported["root"] / study / "datasetjson").glob("*.json")):
                document = json.loads(path.read_text(encoding="utf-8"))
                errors = [e.message for e in check.iter_errors(document)]
                assert errors == [], (path, errors)
                table = path.stem
                rows = con.execute(f"SELECT * FROM adam.{table} WHERE STUDYID = ?", [study]).fetchall()
                types = dict(
                    con.execute(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = 'adam' AND table_name = ?",
                        [table],
                    ).fetchall()
                )
                columns = document["columns"]
                assert [c["name"] for c in columns] == list(types)
                assert document["records"] == len(rows) == len(document["rows"])
                assert document["itemGroupOID"] == f"IG.{table.upper()}"
                assert document["metaDataRef"] == "../define/define.xml"

                def back(value, column):
                    if value is not None and column["dataType"] == "date":
                        return dt.date.fromisoformat(value)
                    return value

                read = [tuple(back(v, c) for v, c in zip(row, columns, strict=True)) for row in document["rows"]]
                assert read == rows, (study, table)
                kinds = {c["name"]: c["dataType"] for c in columns}
                for name, duckdb_type in types.items():
                    expected = {"VARCHAR": "string", "INTEGER": "integer", "DOUBLE": "double", "DATE": "date"}
                    assert kinds[name] == expected[duckdb_type], (table, name)
    adsl = json.loads((exported["root"] / "S1" / "datasetjson" / "adsl.json").read_text())
    trtsdt = next(c for c in adsl["columns"] if c["name"] == "TRTSDT")
    assert trtsdt["targetDataType"] == "integer" and trtsdt["displayFormat"] == "DATE9."
    assert next(c for c in adsl["columns"] if c["name"] == "USUBJID")["keySequence"] == 2
    assert adsl["rows"][1][3] is None  # a missing date is null


def test_parquet_fields_carry_labels_and_descriptions(exported):
    import pyarrow.parquet as pq

    schema = pq.read_schema(exported["root"] / "S1" / "adam" / "adsl.parquet")
    assert schema.field("AGE").metadata == {b"label": b"Age", b"description": b"Age in years at consent."}
    assert schema.metadata[b"label"] == b"Subject-Level Analysis Dataset"
    assert schema.metadata[b"dataset"] == b"ADSL"
    # a table the yml does not describe still exports, without labels (listed as unlabelled)
    endpoints = pq.read_schema(exported["root"] / "S1" / "analysis" / "endpoints.parquet")
    assert endpoints.field("ESTIMATE").metadata is None
    assert "analysis.endpoints.ESTIMATE" in exported["summary"].unlabelled
