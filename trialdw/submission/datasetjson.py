"""CDISC Dataset-JSON v1.1 files of one study's ADaM datasets.

One file per dataset (``<table>.json``), built with odmlib's Dataset-JSON 1.1
model from the same published rows and the same facts as the XPT and the
define.xml, whose OIDs it uses (itemGroupOID, itemOID, studyOID,
metaDataVersionOID) and which it names in ``metaDataRef``.

Types (the v1.1 specification's data types):
- VARCHAR: ``string``, ``length`` = longest value in bytes (as in define.xml);
- integers: ``integer`` (JSON numbers);
- DOUBLE/FLOAT: ``double`` (JSON numbers); DECIMAL: ``decimal`` (JSON strings,
  as the specification asks, so no digit is lost);
- DATE: ``date`` (ISO 8601 text, "2026-01-05") with ``targetDataType: integer``
  and ``displayFormat: DATE9.``: a SAS reader converts it to the same SAS date
  as in the XPT;
- NULL: JSON null. ``keySequence`` marks the dataset's keys.

The JSON schema (``schemas/dataset-json-1.1.schema.json``) is written from the
CDISC specification (no installed package ships it); the tests validate every
file against it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from pathlib import Path

from trialdw.submission.define import item_group_oid, item_oid, metadata_version_oid, study_oid
from trialdw.submission.facts import DatasetFacts

VERSION = "1.1.0"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "dataset-json-1.1.schema.json"


def _column(facts: DatasetFacts, variable) -> dict:
    meta = facts.meta
    column = meta.columns.get(variable.name)
    spec = {
        "itemOID": item_oid(facts.dataset, variable.name),
        "name": variable.name,
        "label": (column.label if column else None) or variable.name,
    }
    if variable.kind == "text":
        spec.update(dataType="string", length=variable.length or 1)
    elif variable.kind == "integer":
        spec["dataType"] = "integer"
    elif variable.kind == "date":
        spec.update(dataType="date", targetDataType="integer", displayFormat="DATE9.")
    elif variable.duckdb_type.startswith("DECIMAL"):
        spec["dataType"] = "decimal"
    else:
        spec["dataType"] = "double"
    if variable.name in meta.keys:
        spec["keySequence"] = meta.keys.index(variable.name) + 1
    return spec


def _value(value):
    """A DuckDB value as JSON: dates ISO 8601, decimals as text, NaN as null."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dataset_json(con, schema: str, table: str, study: str, facts: DatasetFacts, created: dt.datetime, version: str):
    """The odmlib DatasetJSON object of one dataset of one study."""
    from odmlib.dataset_json_1_1.model import Column, DatasetJSON, SourceSystem

    names = [v.name for v in facts.variables]
    select = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
    rows = con.execute(f'SELECT {select} FROM "{schema}"."{table}" WHERE STUDYID = ?', [study]).fetchall()
    stamp = created.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    document = DatasetJSON(
        datasetJSONCreationDateTime=stamp,
        datasetJSONVersion=VERSION,
        fileOID=f"{study_oid(study)}.{facts.dataset}",
        originator="trialdw",
        sourceSystem=SourceSystem(name="trialdw", version=version),
        studyOID=study_oid(study),
        metaDataVersionOID=metadata_version_oid(study),
        metaDataRef="../define/define.xml",
        itemGroupOID=item_group_oid(facts.dataset),
        records=0,
        name=facts.dataset,
        label=facts.meta.label or facts.dataset,
        columns=[Column(**_column(facts, v)) for v in facts.variables],
    )
    document.rows = [[_value(v) for v in row] for row in rows]
    document.records = len(rows)
    return document


def write_dataset_json(
    con, schema: str, table: str, study: str, facts: DatasetFacts, path: Path, created: dt.datetime, version: str
) -> int:
    """Write ``path``; returns the records written. A dataset with no rows keeps
    ``rows: []`` (odmlib would drop the member; the specification allows both)."""
    document = dataset_json(con, schema, table, study, facts, created, version).to_dict()
    document.setdefault("rows", [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        json.dump(document, out, ensure_ascii=False, separators=(",", ":"))
    return document["records"]


def validator():
    """A jsonschema validator of the Dataset-JSON v1.1 schema kept in the repository."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
