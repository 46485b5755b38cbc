"""What a statistician takes toward a submission, from one real night (synth data →
Prefect flow → dbt → endpoints → publish → exports): labels everywhere, define.xml
valid against the Define-XML 2.1 schema with resolving references, Dataset-JSON
that validates and reads back as the published tables, no empty single-cell
datasets, and dbt's docs published beside the reports, readable offline."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from trialdw import warehouse as wh
from trialdw.cli import load_nightly_flow
from trialdw.submission.datasetjson import validator
from trialdw.submission.define import unresolved_references
from trialdw.submission.metadata import load_catalog, missing_metadata
from trialdw.synth import generate

pytestmark = pytest.mark.slow

STUDIES = ("HCC-REGO-PD1", "HCC-SURU-SC")
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}


@pytest.fixture(scope="module")
def night(tmp_path_factory, prefect_harness):
    root = tmp_path_factory.mktemp("submission-night")
    generate(root / "landing", seed=11, subjects=12)
    result = load_nightly_flow()(landing=str(root / "landing"), warehouse=str(root / "wh" / "trialdw.duckdb"))
    return {"result": result, "warehouse": root / "wh" / "trialdw.duckdb", "latest": Path(result["exports"])}


def _columns(con, schemas=("adam", "analysis")) -> dict[tuple[str, str], list[tuple[str, str, str | None]]]:
    rows = con.execute(
        "SELECT schema_name, table_name, column_name, data_type, comment FROM duckdb_columns() "
        f"WHERE schema_name IN ({', '.join('?' for _ in schemas)}) ORDER BY schema_name, table_name, column_index",
        list(schemas),
    ).fetchall()
    out: dict = {}
    for schema, table, column, data_type, comment in rows:
        out.setdefault((schema, table), []).append((column, data_type, comment))
    return out


def test_every_adam_and_analysis_column_has_a_label_a_description_and_a_duckdb_comment(night):
    catalog = load_catalog()
    with wh.connect_read_only(night["warehouse"]) as con:
        tables = _columns(con)
        comments = {
            (s, t): c
            for s, t, c in con.execute(
                "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE schema_name IN ('adam', 'analysis')"
            ).fetchall()
        }
    assert {t for s, t in tables if s == "adam"} >= {"adsl", "adrs", "adtte", "adae", "adcp", "adgf"}
    missing = [m for (s, t), cols in tables.items() for m in missing_metadata(catalog, s, t, [c for c, _, _ in cols])]
    assert missing == [], f"add a meta.label and a description in the dbt yml for: {missing}"
    uncommented = [f"{s}.{t}.{c}" for (s, t), cols in tables.items() for c, _, comment in cols if not comment]
    assert uncommented == [] and all(comments[k] for k in tables)


def test_zero_unlabelled_variables_in_xpt_parquet_and_define(night):
    import pyarrow.parquet as pq
    import pyreadstat
    from lxml import etree

    catalog = load_catalog()
    for study in STUDIES:
        folder = night["latest"] / study
        for xpt in sorted((folder / "xpt").glob("*.xpt")):
            _, meta = pyreadstat.read_xport(xpt, metadataonly=True)
            assert meta.file_label == catalog[("adam", xpt.stem)].label, xpt
            assert all(meta.column_names_to_labels.values()), (xpt, meta.column_names_to_labels)
        for parquet in sorted(folder.glob("*/*.parquet")):
            schema = pq.read_schema(parquet)
            assert schema.metadata[b"label"], parquet
            unlabelled = [f.name for f in schema if not (f.metadata or {}).get(b"label")]
            assert unlabelled == [], (parquet, unlabelled)
        tree = etree.parse(str(folder / "define" / "define.xml"))
        for item in tree.iterfind(".//odm:ItemDef", NS):
            assert item.findtext("odm:Description/odm:TranslatedText", namespaces=NS), item.get("OID")


def test_define_xml_of_each_study_is_schema_valid_and_describes_its_xpt_files(night):
    import pyreadstat
    from defineutils.validate.validate import DefineSchemaValidator
    from lxml import etree

    for study in STUDIES:
        folder = night["latest"] / study / "define"
        DefineSchemaValidator(folder / "define.xml").validate_define_file()
        assert unresolved_references(folder / "define.xml") == []
        tree = etree.parse(str(folder / "define.xml"))
        items = {i.get("OID"): i.get("Name") for i in tree.iterfind(".//odm:ItemDef", NS)}
        groups = list(tree.iterfind(".//odm:ItemGroupDef", NS))
        assert sorted(g.get("Name").lower() + ".xpt" for g in groups) == sorted(
            p.name for p in (night["latest"] / study / "xpt").glob("*.xpt")
        )
        for group in groups:
            href = group.find("def:leaf", NS).get("{http://www.w3.org/1999/xlink}href")
            _, meta = pyreadstat.read_xport(folder / href, metadataonly=True)
            assert [items[r.get("ItemOID")] for r in group.iterfind("odm:ItemRef", NS)] == meta.column_names
        lists = {v.get("OID") for v in tree.iterfind(".//def:ValueListDef", NS)}
        assert {"VL.ADRS.AVALC", "VL.ADTTE.AVAL"} <= lists
        html = (folder / "define.html").read_text(encoding="utf-8")
        assert "Value Level Metadata" in html or "VLM" in html
    rego = (night["latest"] / "HCC-REGO-PD1" / "define" / "define.xml").read_text()
    assert "IG.ADCP" not in rego and "IG.ADGF" not in rego
    suru = (night["latest"] / "HCC-SURU-SC" / "define" / "define.xml").read_text()
    assert "IG.ADCP" in suru and "IG.ADGF" in suru


def test_no_single_cell_files_for_the_study_without_single_cell_data(night):
    rego = night["latest"] / "HCC-REGO-PD1"
    names = [p.relative_to(rego).as_posix() for p in rego.rglob("*") if p.is_file()]
    assert not [n for n in names if re.search(r"adcp|adgf|celltype_change|gene_change", n)], names
    suru = night["latest"] / "HCC-SURU-SC"
    for path in ("xpt/adcp.xpt", "xpt/adgf.xpt", "datasetjson/adgf.json", "analysis/gene_change.parquet"):
        assert (suru / path).is_file(), path


def test_dataset_json_validates_and_reads_back_as_the_published_tables(night):
    check = validator()
    with wh.connect_read_only(night["warehouse"]) as con:
        for study in STUDIES:
            files = sorted((night["latest"] / study / "datasetjson").glob("*.json"))
            assert {p.stem for p in files} == {p.stem for p in (night["latest"] / study / "xpt").glob("*.xpt")}
            for path in files:
                document = json.loads(path.read_text(encoding="utf-8"))
                assert list(check.iter_errors(document)) == [], path
                rows = con.execute(f"SELECT * FROM adam.{path.stem} WHERE STUDYID = ?", [study]).fetchall()
                dates = [c["dataType"] == "date" for c in document["columns"]]
                read = [
                    tuple(dt.date.fromisoformat(v) if d and v is not None else v for v, d in zip(r, dates, strict=True))
                    for r in document["rows"]
                ]
                assert document["records"] == len(rows) and read == rows, (study, path.stem)


def test_lineage_docs_are_published_with_the_reports_and_open_offline(night, tmp_path):
    reports = Path(night["result"]["reports"])
    page = reports / "lineage" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert '"model.trialdw.adsl"' in html and '"source.trialdw.analysis.endpoints"' in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"'](https?:)?//", html)
    index = (reports / "study-reports" / "index.html").read_text(encoding="utf-8")
    assert 'href="../lineage/index.html"' in index

    from tests.browser import HeadlessChromium, chromium_path

    if chromium_path() is None:
        pytest.skip("chromium is not installed (make test installs it)")
    with HeadlessChromium(page.as_uri() + "#!/model/model.trialdw.adsl", tmp_path) as browser:
        browser.wait_for("document.body.innerText.includes('Subject-Level Analysis Dataset')")
        loaded = browser.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in loaded if not u.startswith("file:")] == []
