"""Per-study file exports of the published warehouse: Parquet and SAS XPT v5.

Layout under ``out_root`` (the lead's flow uses ``<warehouse folder>/<stem>-exports``)::

    <run_id>/<STUDYID>/adam/<table>.parquet       every adam.* table, this study's rows
    <run_id>/<STUDYID>/analysis/<table>.parquet   every analysis.* table, this study's rows
    <run_id>/<STUDYID>/xpt/<table>.xpt            every adam.* table as SAS transport v5
    latest -> <run_id>                            relative symlink, swapped atomically

Every study gets every file, empty ones included, so a program reading
``latest/<STUDYID>/…`` never has to ask whether a file exists. A run folder
is written under a hidden name and renamed into place when it is complete.
The ``latest`` link then moves to it, and folders beyond the newest
``keep`` are deleted.

XPT rules (SAS transport v5, what regulators accept):
- dataset and variable names: ≤ 8 characters, A–Z 0–9 _, not starting with a
  digit. ADaM names already comply. Anything else raises ``ExportError``: a
  renamed variable would silently break every program that reads it.
- variable labels (≤ 40 characters) come from one place, the dbt yml of the
  adam models: a column's ``meta: {label: …}`` if given, else its
  ``description`` cut to its first clause and at most 40 characters
  (``xpt_label``). A column with neither gets no label and is listed in
  ``ExportSummary.unlabelled``.
- DATE columns become SAS dates (days since 1960-01-01) with format DATE9.
- character values ≤ 200 bytes (UTF-8). Longer raises ``ExportError``: truncating
  a clinical value is not acceptable. Values are never altered. Non-ASCII text,
  which the FDA's conformance guide does not accept in XPT, is written as
  UTF-8 and its columns are listed in ``ExportSummary.non_ascii``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from trialdw.project import PROJECT_ROOT

ADAM_MODELS_DIR = PROJECT_ROOT / "dbt_project" / "models" / "marts" / "adam"
EXPORTED_SCHEMAS = ("adam", "analysis")
XPT_SCHEMA = "adam"
LATEST = "latest"
DEFAULT_KEEP = 7

XPT_MAX_NAME = 8
XPT_MAX_LABEL = 40
XPT_MAX_CHAR_BYTES = 200
SAS_EPOCH = dt.date(1960, 1, 1)
_XPT_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# STUDYID and run ids become folder names: no separators, no leading dot.
_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


class ExportError(RuntimeError):
    """The warehouse cannot be exported faithfully (names, lengths, STUDYID)."""


@dataclass
class ExportSummary:
    run_folder: Path
    latest: Path
    studies: tuple[str, ...]
    # "<STUDYID>/<schema>/<table>" → rows written
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    # "<DATASET>.<VARIABLE>" with no label in the dbt yml
    unlabelled: list[str] = field(default_factory=list)
    # "<STUDYID>/<DATASET>.<VARIABLE>" holding non-ASCII text in the XPT
    non_ascii: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    # studies whose files were carried over (hard links) from the previous run folder
    carried: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ labels


def xpt_label(description: str | None) -> str | None:
    """A ≤ 40-character label from a dbt column description.

    The first clause: text before the first ': ' (when at least two words
    precede it: "OVR: …" keeps its prefix), '; ', ' (' or '. '. If it is
    still too long, cut at the last ', ' within 40 characters (unless that
    leaves a bracket open), else at the last space; inside a word only when the
    first word alone is longer than 40."""
    if not description or not description.strip():
        return None
    text = " ".join(description.split())
    head, colon, _ = text.partition(": ")
    if colon and len(head.split()) >= 2:
        text = head
    for stop in ("; ", " (", ". "):
        text = text.split(stop, 1)[0]
    text = text.rstrip(" .")
    if len(text) <= XPT_MAX_LABEL:
        return text or None
    head = text[: XPT_MAX_LABEL + 1]
    comma = head.rfind(", ")
    if comma > 0 and head[:comma].count("(") == head[:comma].count(")"):
        return head[:comma]
    space = head.rfind(" ")
    return head[:space].rstrip(" ,") if space > 0 else text[:XPT_MAX_LABEL]


def adam_labels(models_dir: Path = ADAM_MODELS_DIR) -> dict[str, tuple[str | None, dict[str, str]]]:
    """table (lower case) → (dataset label, {VARIABLE: label}) from the adam dbt yml."""
    import yaml

    labels: dict[str, tuple[str | None, dict[str, str]]] = {}
    for path in sorted(models_dir.glob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            columns = {}
            for column in model.get("columns", []) or []:
                label = (column.get("meta") or {}).get("label") or xpt_label(column.get("description"))
                if label:
                    columns[column["name"].upper()] = label[:XPT_MAX_LABEL]
            labels[model["name"].lower()] = (xpt_label(model.get("description")), columns)
    return labels


# ------------------------------------------------------------- the warehouse


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tables(con) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in EXPORTED_SCHEMAS)
    return con.execute(
        f"SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_schema IN ({placeholders}) ORDER BY table_schema, table_name",
        list(EXPORTED_SCHEMAS),
    ).fetchall()


def _columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()


def _studies(con, tables) -> list[str]:
    """Every configured study and every STUDYID present in an exported table."""
    selects = [f"SELECT STUDYID FROM {_quote(s)}.{_quote(t)}" for s, t in tables]
    configured = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'config' AND table_name = 'studies'"
    ).fetchone()[0]
    if configured:
        selects.append("SELECT STUDYID FROM config.studies")
    if not selects:
        return []
    union = " UNION ".join(selects)
    studies = [r[0] for r in con.execute(f"SELECT DISTINCT STUDYID FROM ({union}) ORDER BY 1").fetchall()]
    if None in studies:
        raise ExportError("rows with NULL STUDYID cannot be exported per study")
    bad = [s for s in studies if not _SAFE_FOLDER.match(s)]
    if bad:
        raise ExportError(f"STUDYID values not usable as folder names: {bad}")
    return studies


def _check_exportable(con, tables) -> None:
    missing = [f"{s}.{t}" for s, t in tables if "STUDYID" not in {c for c, _ in _columns(con, s, t)}]
    if missing:
        raise ExportError(f"tables without a STUDYID column cannot be split per study: {missing}")
    problems = []
    for schema, table in tables:
        if schema != XPT_SCHEMA:
            continue
        names = [table.upper()] + [c for c, _ in _columns(con, schema, table)]
        problems += [f"{schema}.{table}: {n!r}" for n in names if len(n) > XPT_MAX_NAME or not _XPT_NAME.match(n)]
    if problems:
        raise ExportError("names not valid in SAS transport v5 (≤ 8 characters, A-Z 0-9 _): " + ", ".join(problems))


# ------------------------------------------------------------------ writers


def _write_parquet(con, schema: str, table: str, study: str, path: Path) -> int:
    where = f"WHERE STUDYID = {_literal(study)}"
    source = f"{_quote(schema)}.{_quote(table)}"
    con.execute(f"COPY (SELECT * FROM {source} {where}) TO {_literal(str(path))} (FORMAT parquet)")
    return con.execute(f"SELECT count(*) FROM {source} {where}").fetchone()[0]


def _xpt_select(columns: list[tuple[str, str]], schema: str, table: str) -> str:
    """SELECT giving XPT-ready values: dates as SAS day numbers, numbers as DOUBLE."""
    parts = []
    for name, data_type in columns:
        col = _quote(name)
        if data_type == "DATE":
            parts.append(f"CAST(date_diff('day', DATE '{SAS_EPOCH}', {col}) AS DOUBLE) AS {col}")
        elif data_type.startswith(_NUMERIC_TYPES):
            parts.append(f"CAST({col} AS DOUBLE) AS {col}")
        elif data_type == "VARCHAR":
            parts.append(col)
        else:
            raise ExportError(f"{schema}.{table}.{name}: type {data_type} has no XPT mapping")
    return f"SELECT {', '.join(parts)} FROM {_quote(schema)}.{_quote(table)}"


def _write_xpt(con, table: str, study: str, path: Path, labels, summary: ExportSummary) -> None:
    import pyreadstat

    columns = _columns(con, XPT_SCHEMA, table)
    frame = con.execute(_xpt_select(columns, XPT_SCHEMA, table) + " WHERE STUDYID = ?", [study]).df()
    dataset = table.upper()
    for name, data_type in columns:
        if data_type != "VARCHAR":
            continue
        values = frame[name].dropna()
        too_long = values[values.map(lambda v: len(v.encode("utf-8")) > XPT_MAX_CHAR_BYTES)]
        if not too_long.empty:
            raise ExportError(
                f"{study} {dataset}.{name}: {len(too_long)} value(s) longer than "
                f"{XPT_MAX_CHAR_BYTES} bytes, e.g. {too_long.iloc[0][:60]!r}…"
            )
        if not values.map(str.isascii).all():
            summary.non_ascii.append(f"{study}/{dataset}.{name}")
    dataset_label, variable_labels = labels.get(table, (None, {}))
    pyreadstat.write_xport(
        frame,
        str(path),
        file_label=dataset_label or "",
        table_name=dataset,
        file_format_version=5,
        column_labels={c: variable_labels.get(c) for c, _ in columns},
        variable_format={c: "DATE9." for c, t in columns if t == "DATE"},
    )


def _link_tree(source: Path, target: Path) -> None:
    """Hard links of a carried-over study's files: a run folder's files are never
    written again once the folder is complete, so sharing them is safe and free."""
    shutil.copytree(source, target, copy_function=os.link)


def _write_run_folder(
    db_path: Path, folder: Path, summary: ExportSummary, models_dir: Path, changed: set[str] | None,
    carry: Path | None,
) -> None:  # fmt: skip
    labels = adam_labels(models_dir)
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = _tables(con)
        _check_exportable(con, tables)
        summary.studies = tuple(_studies(con, tables))
        adam_tables = [t for s, t in tables if s == XPT_SCHEMA]
        summary.unlabelled = [
            f"{t.upper()}.{c}"
            for t in adam_tables
            for c, _ in _columns(con, XPT_SCHEMA, t)
            if c not in labels.get(t, (None, {}))[1]
        ]
        for study in summary.studies:
            if changed is not None and study not in changed and carry is not None and (carry / study).is_dir():
                _link_tree(carry / study, folder / study)
                summary.files += sorted(p for p in (folder / study).rglob("*") if p.is_file())
                summary.carried.append(study)
                continue
            for schema, table in tables:
                target = folder / study / schema / f"{table}.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                summary.rows[f"{study}/{schema}/{table}"] = _write_parquet(con, schema, table, study, target)
                summary.files.append(target)
            for table in adam_tables:
                target = folder / study / "xpt" / f"{table}.xpt"
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_xpt(con, table, study, target, labels, summary)
                summary.files.append(target)


# ------------------------------------------------------- latest and keeping


def point_latest(out_root: Path, run_id: str) -> Path:
    """Make ``out_root/latest`` a relative symlink to the run folder, atomically
    (a new link under a temporary name, then ``os.replace`` over the old one)."""
    latest = out_root / LATEST
    temporary = out_root / f".{LATEST}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(run_id, temporary, target_is_directory=True)
    os.replace(temporary, latest)
    return latest


def run_folders(out_root: Path) -> list[Path]:
    """Completed run folders, oldest first (folder mtime = when its last file was
    written; name breaks ties). Hidden entries and the latest link are not runs."""
    folders = [
        p
        for p in out_root.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and p.name != LATEST
    ]
    return sorted(folders, key=lambda p: (p.stat().st_mtime_ns, p.name))


def prune(out_root: Path, keep: int, current: Path) -> list[Path]:
    """Delete run folders beyond the newest ``keep``; never the current one."""
    old = [p for p in run_folders(out_root) if p != current]
    doomed = old[: max(0, len(old) - (keep - 1))]
    for folder in doomed:
        shutil.rmtree(folder)
    return doomed


def write_exports(
    db_path: Path, out_root: Path, run_id: str, keep: int = DEFAULT_KEEP, models_dir: Path = ADAM_MODELS_DIR,
    changed: set[str] | None = None,
) -> ExportSummary:  # fmt: skip
    """Export the warehouse at ``db_path`` (opened read-only) into
    ``out_root/run_id``, point ``out_root/latest`` at it and keep the newest
    ``keep`` run folders. XPT labels come from the dbt yml in ``models_dir``.
    ``changed``: the studies rebuilt this night (None: all); every other study's
    files are carried over from the latest run folder as hard links.
    Raises ExportError, leaving ``latest`` and older runs untouched, when
    something cannot be exported faithfully."""
    db_path, out_root = Path(db_path), Path(out_root)
    if keep < 1:
        raise ValueError("keep must be at least 1 (the run just written)")
    if not _SAFE_FOLDER.match(run_id) or run_id == LATEST:
        raise ExportError(f"run id {run_id!r} is not usable as a folder name")
    if not db_path.exists():
        raise FileNotFoundError(db_path)
    final = out_root / run_id
    if final.exists():
        raise ExportError(f"{final} already exists: exports of run {run_id} were already written")
    out_root.mkdir(parents=True, exist_ok=True)
    partial = out_root / f".{run_id}.partial"
    if partial.exists():
        shutil.rmtree(partial)  # a crashed attempt of this same run
    summary = ExportSummary(run_folder=final, latest=out_root / LATEST, studies=())
    partial.mkdir()
    try:
        carry = (out_root / LATEST).resolve() if (out_root / LATEST).is_dir() else None
        _write_run_folder(db_path, partial, summary, Path(models_dir), changed, carry)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(final)
    summary.files = [final / p.relative_to(partial) for p in summary.files]
    point_latest(out_root, run_id)
    summary.removed = prune(out_root, keep, final)
    return summary
