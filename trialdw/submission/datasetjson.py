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
import json
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


# Rows are written this many at a time: memory stays bounded for a dataset of
# millions of rows (ADGF).
BATCH_ROWS = 20_000


def _json_select(variable) -> str:
    """The SELECT expression giving ``variable`` as its JSON value: dates ISO 8601,
    decimals as text (no digit lost), a non-finite double as null, a FLOAT
    widened to DOUBLE (the value Python and SAS readers see)."""
    name = '"' + variable.name.replace('"', '""') + '"'
    if variable.kind == "date":
        return f"strftime({name}, '%Y-%m-%d')"
    if variable.duckdb_type.startswith("DECIMAL"):
        return f"CAST({name} AS VARCHAR)"
    if variable.kind == "float":
        return f"CASE WHEN isfinite({name}) THEN CAST({name} AS DOUBLE) END"
    return name


def _rows_json_sql(schema: str, table: str, variables) -> str:
    """Each row of one study as its JSON array text, rendered by DuckDB's json
    extension (strings escaped, UTF-8 kept, NULL as null, numbers in their
    shortest round-trip form): building Python tuples and encoding them with the
    json module cost ~2 s of a 700,000-row ADGF, this a tenth of that."""
    values = ", ".join(_json_select(v) for v in variables)
    return f'SELECT CAST(json_array({values}) AS VARCHAR) FROM "{schema}"."{table}" WHERE STUDYID = ?'


def dataset_json(con, schema: str, table: str, study: str, facts: DatasetFacts, created: dt.datetime, version: str):
    """The odmlib DatasetJSON object of one dataset of one study, without its rows
    (``records`` counted); write_dataset_json streams the rows after it."""
    from odmlib.dataset_json_1_1.model import Column, DatasetJSON, SourceSystem

    (records,) = con.execute(f'SELECT count(*) FROM "{schema}"."{table}" WHERE STUDYID = ?', [study]).fetchone()
    stamp = created.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return DatasetJSON(
        datasetJSONCreationDateTime=stamp,
        datasetJSONVersion=VERSION,
        fileOID=f"{study_oid(study)}.{facts.dataset}",
        originator="trialdw",
        sourceSystem=SourceSystem(name="trialdw", version=version),
        studyOID=study_oid(study),
        metaDataVersionOID=metadata_version_oid(study),
        metaDataRef="../define/define.xml",
        itemGroupOID=item_group_oid(facts.dataset),
        records=records,
        name=facts.dataset,
        label=facts.meta.label or facts.dataset,
        columns=[Column(**_column(facts, v)) for v in facts.variables],
    )


def write_dataset_json(
    con, schema: str, table: str, study: str, facts: DatasetFacts, path: Path, created: dt.datetime, version: str
) -> int:
    """Write ``path``; returns the records written. The document's members as
    odmlib gives them, then ``rows`` (last, ``[]`` for a dataset with no rows:
    odmlib would drop the member; the specification allows both), streamed in
    batches of BATCH_ROWS in the table's order (as the XPT and Parquet files)."""
    document = dataset_json(con, schema, table, study, facts, created, version).to_dict()
    document.pop("rows", None)
    cursor = con.cursor()
    try:
        cursor.execute(_rows_json_sql(schema, table, facts.variables), [study])
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":"))[:-1])
            out.write(',"rows":[')
            while batch := cursor.fetchmany(BATCH_ROWS):
                out.write("," if written else "")
                out.write(",".join([row for (row,) in batch]))
                written += len(batch)
            out.write("]}")
    finally:
        cursor.close()
    if written != document["records"]:
        raise RuntimeError(f"{path}: {written} rows written, {document['records']} counted")
    return written


def validator():
    """A jsonschema validator of the Dataset-JSON v1.1 schema kept in the repository."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
