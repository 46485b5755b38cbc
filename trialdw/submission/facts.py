"""What one study's rows say about each ADaM variable: type, length, decimals, values.

define.xml and Dataset-JSON describe the same files, so they take their
lengths and codelists from one reading of the data (``study_facts``), not two.
Everything is computed in DuckDB over the study's rows of the published file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trialdw.submission.metadata import DatasetMeta

INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")
PARAMCD = "PARAMCD"
PARAM = "PARAM"
# BDS variables that carry a parameter's value: value-level metadata per PARAMCD.
VALUE_VARIABLES = ("AVALC", "AVAL")
MAX_DECIMALS = 15  # a double holds at most ~15-17 significant digits


def kind(duckdb_type: str) -> str:
    """text | integer | float | date: how a DuckDB column is written to XPT and described."""
    if duckdb_type == "VARCHAR":
        return "text"
    if duckdb_type == "DATE":
        return "date"
    if duckdb_type.startswith(INTEGER_TYPES):
        return "integer"
    if duckdb_type.startswith((*FLOAT_TYPES, "DECIMAL")):
        return "float"
    raise ValueError(f"type {duckdb_type} has no submission mapping")


@dataclass
class VariableFacts:
    name: str
    duckdb_type: str
    kind: str
    length: int | None = None  # text: longest value in UTF-8 bytes (at least 1)
    decimals: int | None = None  # float: most digits after the point
    non_null: int = 0
    values: tuple = ()  # codelist values: the tested ones, then any other present


@dataclass
class ParameterFacts:
    paramcd: str
    param: str | None
    records: int
    variables: dict[str, VariableFacts] = field(default_factory=dict)  # VALUE_VARIABLES with data


@dataclass
class DatasetFacts:
    meta: DatasetMeta
    records: int
    variables: list[VariableFacts]
    parameters: list[ParameterFacts] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        return self.meta.name.upper()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _measures(con, table_sql: str, where: str, params: list, columns: list[tuple[str, str]]) -> dict[str, tuple]:
    """(max byte length, max decimals, non-null count) per column, in one scan."""
    parts = []
    for name, duckdb_type in columns:
        col = _quote(name)
        k = kind(duckdb_type)
        length = f"max(strlen({col}))" if k == "text" else "NULL"
        text = f"CAST({col} AS VARCHAR)"
        decimals = (
            f"max(CASE WHEN {text} LIKE '%e%' THEN {MAX_DECIMALS} ELSE length(split_part({text}, '.', 2)) END)"
            if k == "float"
            else "NULL"
        )
        parts += [length, decimals, f"count({col})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {table_sql} WHERE {where}", params).fetchall()[0]
    return {name: row[3 * i : 3 * i + 3] for i, (name, _) in enumerate(columns)}


def _coded(meta: DatasetMeta, name: str) -> bool:
    """A variable gets a codelist when its yml tests its values, and PARAMCD always."""
    column = meta.columns.get(name)
    return name == PARAMCD or bool(column and column.allowed)


def _values(con, table_sql, where, params, name, allowed) -> tuple:
    present = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT {_quote(name)} FROM {table_sql} WHERE {where} AND {_quote(name)} IS NOT NULL ORDER BY 1",
            params,
        ).fetchall()
    ]
    ordered = list(allowed)
    ordered += [v for v in present if v not in ordered and str(v) not in {str(a) for a in ordered}]
    return tuple(ordered)


def study_facts(con, schema: str, table: str, meta: DatasetMeta, study: str) -> DatasetFacts:
    """Facts of one dataset for one study (read-only queries on ``con``)."""
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    source = f"{_quote(schema)}.{_quote(table)}"
    where, params = "STUDYID = ?", [study]
    records = con.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchall()[0][0]
    measured = _measures(con, source, where, params, columns)
    variables = []
    for name, duckdb_type in columns:
        length, decimals, non_null = measured[name]
        facts = VariableFacts(name, duckdb_type, kind(duckdb_type), max(length or 0, 1), decimals, non_null)
        if facts.kind != "text":
            facts.length = None
        if _coded(meta, name):
            column = meta.columns.get(name)
            facts.values = _values(con, source, where, params, name, column.allowed if column else ())
        variables.append(facts)
    names = {c for c, _ in columns}
    parameters = []
    if PARAMCD in names:
        param_expr = f"min({_quote(PARAM)})" if PARAM in names else "NULL"
        rows = con.execute(
            f"SELECT {_quote(PARAMCD)}, {param_expr}, count(*) FROM {source} WHERE {where} "
            f"AND {_quote(PARAMCD)} IS NOT NULL GROUP BY 1 ORDER BY 1",
            params,
        ).fetchall()
        value_columns = [(c, t) for c, t in columns if c in VALUE_VARIABLES]
        for paramcd, param, count in rows:
            parameter = ParameterFacts(paramcd, param, count)
            where_param = f"{where} AND {_quote(PARAMCD)} = ?"
            measured_param = _measures(con, source, where_param, [*params, paramcd], value_columns)
            for name, duckdb_type in value_columns:
                length, decimals, non_null = measured_param[name]
                if not non_null:
                    continue
                facts = VariableFacts(name, duckdb_type, kind(duckdb_type), max(length or 0, 1), decimals, non_null)
                if facts.kind != "text":
                    facts.length = None
                else:
                    facts.values = _values(con, source, where_param, [*params, paramcd], name, ())
                parameter.variables[name] = facts
            parameters.append(parameter)
    return DatasetFacts(meta, records, variables, parameters)
