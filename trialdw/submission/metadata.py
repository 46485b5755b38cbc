"""Dataset and variable metadata of the adam and analysis tables, from the dbt ymls.

One place for it: what a statistician reads about a table or a column (its
label and description) is written once in dbt and read from there by every
file that carries it, so XPT, Parquet, Dataset-JSON, define.xml, the DuckDB
comments and dbt's own docs can never disagree.

- adam models: variable labels (``meta: {label: …}``), descriptions and tests in
  ``dbt_project/models/marts/adam/<model>.yml``; dataset-level metadata (label,
  Define-XML class and subclass, structure, ``study_flag``) in
  ``dbt_project.yml`` under ``models: trialdw: marts: adam: <model>: +meta``
  (dbt's own per-model config, also shown by dbt docs);
- analysis tables, written by Python, not dbt: a dbt ``sources:`` file,
  ``dbt_project/models/analysis/analysis.yml``, with the same keys.

The files are read with PyYAML, not through a dbt parse: exports and the
publish step run without dbt (importing it costs seconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from trialdw.project import PROJECT_ROOT

ADAM_MODELS_DIR = PROJECT_ROOT / "dbt_project" / "models" / "marts" / "adam"
ANALYSIS_SOURCES_DIR = PROJECT_ROOT / "dbt_project" / "models" / "analysis"
DBT_PROJECT_FILE = PROJECT_ROOT / "dbt_project.yml"
MAX_LABEL = 40  # SAS transport v5 and Define-XML's SAS-compatible labels

# A description that starts with a source variable ("DM.SEX …") marks a variable
# copied from the site's (SDTM-like) data: Define-XML origin Predecessor.
_PREDECESSOR = re.compile(r"^([A-Z][A-Z0-9]{1,7}\.[A-Z][A-Z0-9_]{0,7})\b")


@dataclass(frozen=True)
class ColumnMeta:
    name: str
    label: str | None
    description: str | None
    # values an accepted_values test allows, in the yml's order (ints stay ints)
    allowed: tuple = ()
    not_null: bool = False

    @property
    def predecessor(self) -> str | None:
        """``DOMAIN.VARIABLE`` when the description says the value is copied from it."""
        match = _PREDECESSOR.match(self.description or "")
        return match.group(1) if match else None


@dataclass(frozen=True)
class DatasetMeta:
    schema: str  # adam | analysis
    name: str  # table name, lower case
    label: str | None
    description: str | None
    columns: dict[str, ColumnMeta] = field(default_factory=dict)  # by upper-case name
    keys: tuple[str, ...] = ()
    define_class: str | None = None
    subclass: str | None = None
    structure: str | None = None
    # config.studies column that must be true for a study to have this dataset
    study_flag: str | None = None


# ------------------------------------------------------------------ labels


def xpt_label(description: str | None) -> str | None:
    """A ≤ 40-character label from a description, when no ``meta.label`` is given.

    The first clause: text before the first ': ' (when at least two words
    precede it: "OVR: …" keeps its prefix), '; ', ' (' or '. '. If it is
    still too long, cut at the last ', ' within 40 characters (unless that
    leaves a bracket open), else at the last space, never inside a word: a first
    word longer than 40 characters gives no label at all (reported as missing)."""
    if not description or not description.strip():
        return None
    text = " ".join(description.split())
    head, colon, _ = text.partition(": ")
    if colon and len(head.split()) >= 2:
        text = head
    for stop in ("; ", " (", ". "):
        text = text.split(stop, 1)[0]
    text = text.rstrip(" .")
    if len(text) <= MAX_LABEL:
        return text or None
    head = text[: MAX_LABEL + 1]
    comma = head.rfind(", ")
    if comma > 0 and head[:comma].count("(") == head[:comma].count(")"):
        return head[:comma]
    space = head.rfind(" ")
    return head[:space].rstrip(" ,") or None if space > 0 else None


def _label(meta: dict | None, description: str | None) -> str | None:
    label = (meta or {}).get("label")
    if label:
        label = " ".join(str(label).split())
        # An over-long explicit label is an error in the yml (the tests catch it);
        # it is shortened at a word boundary here, never cut inside a word.
        return label if len(label) <= MAX_LABEL else xpt_label(label)
    return xpt_label(description)


# ---------------------------------------------------------------- reading


def _yaml(path: Path) -> dict:
    from trialdw.project import parse_yaml

    return parse_yaml(path.read_text(encoding="utf-8")) or {}


def _tests(entry: dict) -> list:
    return list(entry.get("data_tests") or []) + list(entry.get("tests") or [])


def _test_arguments(test: dict) -> dict:
    """dbt 1.10+ puts a generic test's arguments under ``arguments:``; older ymls inline them."""
    return test.get("arguments") or {k: v for k, v in test.items() if k not in ("config", "name")}


def _column(entry: dict) -> ColumnMeta:
    """A column's metadata. Its rules are declared in ``meta`` (``not_null``,
    ``accepted_values``: checked by the model's ``meets_column_specs`` test) or,
    for a model without that test, as dbt's own column tests."""
    description = " ".join(str(entry.get("description") or "").split()) or None
    meta = entry.get("meta") or {}
    allowed: tuple = tuple(meta.get("accepted_values") or ())
    not_null = bool(meta.get("not_null"))
    for test in _tests(entry):
        if test == "not_null":
            not_null = True
        elif isinstance(test, dict) and "accepted_values" in test:
            allowed = tuple(_test_arguments(test["accepted_values"] or {}).get("values") or ())
    name = str(entry["name"]).upper()
    return ColumnMeta(name, _label(entry.get("meta"), description), description, allowed, not_null)


def _keys(entry: dict, columns: dict[str, ColumnMeta]) -> tuple[str, ...]:
    """The dataset's keys from its uniqueness tests (what dbt checks each night):
    the first unconditional ``unique_combination`` of the model, else STUDYID plus
    a column tested ``unique``."""
    for test in _tests(entry):
        if isinstance(test, dict) and "unique_combination" in test:
            spec = test["unique_combination"] or {}
            if not (spec.get("config") or {}).get("where"):
                return tuple(str(c).upper() for c in _test_arguments(spec).get("columns") or ())
    for column in entry.get("columns") or []:
        if "unique" in _tests(column):
            name = str(column["name"]).upper()
            return ("STUDYID", name) if "STUDYID" in columns and name != "STUDYID" else (name,)
    return ()


def _dataset(schema: str, entry: dict, extra_meta: dict | None = None) -> DatasetMeta:
    meta = {**(extra_meta or {}), **(entry.get("meta") or {}), **((entry.get("config") or {}).get("meta") or {})}
    description = " ".join(str(entry.get("description") or "").split()) or None
    columns = {c.name: c for c in (_column(e) for e in entry.get("columns") or [])}
    return DatasetMeta(
        schema=schema,
        name=str(entry["name"]).lower(),
        label=_label(meta, description),
        description=description,
        columns=columns,
        keys=tuple(str(k).upper() for k in meta.get("keys") or ()) or _keys(entry, columns),
        define_class=meta.get("class"),
        subclass=meta.get("subclass"),
        structure=meta.get("structure"),
        study_flag=meta.get("study_flag"),
    )


def _project_adam_models(project_file: Path) -> dict[str, dict]:
    """Each adam model's configuration in dbt_project.yml (model name → its ``+`` keys)."""
    if not project_file.is_file():
        return {}
    adam = ((((_yaml(project_file).get("models") or {}).get("trialdw") or {}).get("marts") or {}).get("adam")) or {}
    return {name: cfg for name, cfg in adam.items() if isinstance(cfg, dict)}


def _project_model_meta(project_file: Path) -> dict[str, dict]:
    """``+meta`` of each adam model in dbt_project.yml (model name → meta)."""
    return {name: dict(cfg.get("+meta") or {}) for name, cfg in _project_adam_models(project_file).items()}


def adam_models_tagged(tag: str, project_file: Path = DBT_PROJECT_FILE) -> tuple[str, ...]:
    """The adam models dbt_project.yml gives ``tag`` (``+tags``), sorted: the tables a
    dbt build that excludes the tag does not make (trialdw.study_build)."""
    return tuple(sorted(n for n, cfg in _project_adam_models(project_file).items() if tag in (cfg.get("+tags") or ())))


def load_catalog(
    models_dir: Path = ADAM_MODELS_DIR,
    sources_dir: Path | None = ANALYSIS_SOURCES_DIR,
    project_file: Path | None = DBT_PROJECT_FILE,
) -> dict[tuple[str, str], DatasetMeta]:
    """(schema, table) → DatasetMeta for every adam model and analysis source."""
    project_meta = _project_model_meta(project_file) if project_file else {}
    catalog: dict[tuple[str, str], DatasetMeta] = {}
    for path in sorted(Path(models_dir).glob("*.yml")):
        for entry in _yaml(path).get("models") or []:
            dataset = _dataset("adam", entry, project_meta.get(str(entry["name"]).lower()))
            catalog[("adam", dataset.name)] = dataset
    if sources_dir is not None:
        for path in sorted(Path(sources_dir).glob("*.yml")):
            for source in _yaml(path).get("sources") or []:
                schema = str(source.get("schema") or source["name"]).lower()
                for entry in source.get("tables") or []:
                    dataset = _dataset(schema, entry)
                    catalog[(schema, dataset.name)] = dataset
    return catalog


def dataset_meta(catalog: dict, schema: str, table: str) -> DatasetMeta:
    """The table's metadata, or an empty one (every label missing) for a table the ymls do not describe."""
    return catalog.get((schema, table)) or DatasetMeta(schema=schema, name=table, label=None, description=None)


def missing_metadata(catalog: dict, schema: str, table: str, columns: list[str]) -> list[str]:
    """``schema.table`` / ``schema.table.COLUMN`` entries that lack a label or a description."""
    meta = dataset_meta(catalog, schema, table)
    missing = [] if meta.label and meta.description else [f"{schema}.{table}"]
    for name in columns:
        column = meta.columns.get(name.upper())
        if column is None or not column.label or not column.description:
            missing.append(f"{schema}.{table}.{name}")
    return missing
