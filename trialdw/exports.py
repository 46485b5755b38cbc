"""Per-study file exports of the published warehouse: Parquet, SAS XPT v5,
CDISC Dataset-JSON v1.1 and define.xml (Define-XML 2.1).

Layout under ``out_root`` (the lead's flow uses ``<warehouse folder>/<stem>-exports``)::

    <run_id>/<STUDYID>/adam/<table>.parquet         every adam.* table, this study's rows
    <run_id>/<STUDYID>/analysis/<table>.parquet     every analysis.* table, this study's rows
    <run_id>/<STUDYID>/xpt/<table>.xpt              every adam.* table as SAS transport v5
    <run_id>/<STUDYID>/datasetjson/<table>.json     every adam.* table as Dataset-JSON v1.1
    <run_id>/<STUDYID>/define/define.xml, .html     Define-XML 2.1 of the study's ADaM datasets
    latest -> <run_id>                              relative symlink, swapped atomically

Every study gets every file of the tables that apply to it, empty ones
included, so a program reading ``latest/<STUDYID>/…`` never has to ask
whether a file exists. A table applies to a study unless its metadata names a
``study_flag`` (a config.studies column, e.g. SINGLE_CELL for ADCP/ADGF) that
is false for the study and the study has no rows in it: a study without
single-cell data gets no ADCP/ADGF files at all (XPT, Parquet, Dataset-JSON,
define.xml), while a single-cell study with no samples yet gets them empty.
A run folder is written under a hidden name and renamed into place when it is
complete. The ``latest`` link then moves to it, and folders beyond the newest
``keep`` are deleted. The night writes its exports from the file it is about
to publish, while it writes the review page, and moves them into place only
once that file is published (``finish=False``, then ``finish_exports``): the
exports never show a night the warehouse does not.

Labels and descriptions come from the dbt ymls (``trialdw.submission.metadata``);
Parquet files carry them in their Arrow schema: each field's metadata has
``label`` and ``description``, the file's has ``label``, ``description`` and
``dataset`` (upper-case name).

XPT rules (SAS transport v5, what regulators accept):
- dataset and variable names: ≤ 8 characters, A–Z 0–9 _, not starting with a
  digit. ADaM names already comply. Anything else raises ``ExportError``: a
  renamed variable would silently break every program that reads it.
- variable labels (≤ 40 characters) come from one place, the dbt yml of the
  adam models: a column's ``meta: {label: …}`` if given, else its
  ``description`` cut to its first clause and at most 40 characters, never
  inside a word (``xpt_label``). A column with neither gets no label and is
  listed in ``ExportSummary.unlabelled`` (adam and analysis tables).
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

from trialdw.parallel import map_shares
from trialdw.submission.metadata import ADAM_MODELS_DIR, ANALYSIS_SOURCES_DIR, DBT_PROJECT_FILE, load_catalog, xpt_label
from trialdw.warehouse import adam_rows_by_study, table_exists

__all__ = [
    "ADAM_MODELS_DIR",
    "ExportError",
    "ExportSummary",
    "adam_labels",
    "discard_exports",
    "finish_exports",
    "write_exports",
    "xpt_label",
]

EXPORTED_SCHEMAS = ("adam", "analysis")
XPT_SCHEMA = "adam"
LATEST = "latest"
# In each run folder: the run whose warehouse file the folder was exported from.
WRITTEN_FROM = "written-from.txt"
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
    # why nothing could be carried although ``changed`` allowed it (``latest`` behind the warehouse)
    not_carried: str | None = None
    # "<STUDYID>/<schema>/<table>" not written: the table does not apply to the study
    skipped: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ labels


def adam_labels(models_dir: Path = ADAM_MODELS_DIR) -> dict[str, tuple[str | None, dict[str, str]]]:
    """table (lower case) → (dataset label, {VARIABLE: label}) of the adam models
    (``trialdw.submission.metadata`` reads them; kept for the XPT writer)."""
    return _labels(_catalog(models_dir))


def _labels(catalog: dict) -> dict[str, tuple[str | None, dict[str, str]]]:
    """``adam_labels`` of a catalog already read."""
    return {
        table: (meta.label, {name: c.label for name, c in meta.columns.items() if c.label})
        for (schema, table), meta in catalog.items()
        if schema == XPT_SCHEMA
    }


def _catalog(models_dir: Path) -> dict:
    """The metadata of the adam models in ``models_dir`` and the analysis sources.
    A models_dir other than the project's (tests) comes without the project's
    dataset-level metadata and analysis sources."""
    own = Path(models_dir).resolve() == ADAM_MODELS_DIR.resolve()
    return load_catalog(models_dir, ANALYSIS_SOURCES_DIR if own else None, DBT_PROJECT_FILE if own else None)


# ------------------------------------------------------------- the warehouse


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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
    if table_exists(con, "config", "studies"):
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


def _write_parquet(con, schema: str, table: str, study: str, path: Path, meta) -> int:
    """This study's rows of one table, with the yml labels and descriptions in the
    Arrow schema (field metadata; the file's metadata for the table)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = f"{_quote(schema)}.{_quote(table)}"
    data = con.sql(f"SELECT * FROM {source} WHERE STUDYID = ?", params=[study]).to_arrow_table()
    fields = []
    for column in data.schema:
        described = meta.columns.get(column.name.upper())
        notes = {"label": described.label, "description": described.description} if described else {}
        fields.append(column.with_metadata({k: v for k, v in notes.items() if v}))
    notes = {"dataset": table.upper(), "label": meta.label, "description": meta.description}
    data = data.cast(pa.schema(fields, metadata={k: v for k, v in notes.items() if v}))
    pq.write_table(data, path)
    return data.num_rows


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


def _xpt_text_widths(con, names: list[str], table: str, study: str, summary: ExportSummary) -> dict[str, int]:
    """The XPT width of each text column: its longest value in UTF-8 bytes, at
    least 1. XPT v5 holds at most XPT_MAX_CHAR_BYTES bytes per value: a longer
    one raises (never truncated). Columns with non-ASCII text are listed.
    Measured in SQL (strlen is bytes), one pass over the study's rows."""
    if not names:
        return {}
    source = f"{_quote(XPT_SCHEMA)}.{_quote(table)}"
    checks = ", ".join(f"max(strlen({_quote(n)})), bool_or(strlen({_quote(n)}) <> length({_quote(n)}))" for n in names)
    row = con.execute(f"SELECT {checks} FROM {source} WHERE STUDYID = ?", [study]).fetchall()[0]
    dataset = table.upper()
    widths = {}
    for i, name in enumerate(names):
        longest, non_ascii = row[2 * i] or 0, row[2 * i + 1]
        if longest > XPT_MAX_CHAR_BYTES:
            too_long, example = con.execute(
                f"SELECT count(*), first({_quote(name)}) FROM {source} "
                f"WHERE STUDYID = ? AND strlen({_quote(name)}) > ?",
                [study, XPT_MAX_CHAR_BYTES],
            ).fetchall()[0]
            raise ExportError(
                f"{study} {dataset}.{name}: {too_long} value(s) longer than "
                f"{XPT_MAX_CHAR_BYTES} bytes, e.g. {example[:60]!r}…"
            )
        if non_ascii:
            summary.non_ascii.append(f"{study}/{dataset}.{name}")
        widths[name] = max(longest, 1)
    return widths


def _write_xpt(con, table: str, study: str, path: Path, labels, summary: ExportSummary) -> None:
    """SAS transport v5, streamed from DuckDB in batches (trialdw.submission.xpt):
    memory stays bounded however many rows the study has."""
    from trialdw.submission import xpt

    columns = _columns(con, XPT_SCHEMA, table)
    widths = _xpt_text_widths(con, [c for c, t in columns if t == "VARCHAR"], table, study, summary)
    dataset_label, variable_labels = labels.get(table, (None, {}))
    variables = [
        xpt.Variable(
            name,
            numeric=name not in widths,
            width=widths.get(name, 8),
            label=variable_labels.get(name) or "",
            format_name="DATE" if data_type == "DATE" else "",
            format_width=9 if data_type == "DATE" else 0,
        )
        for name, data_type in columns
    ]
    query = con.sql(_xpt_select(columns, XPT_SCHEMA, table) + " WHERE STUDYID = $study", params={"study": study})
    xpt.write_xport(path, table.upper(), dataset_label or "", variables, query.to_arrow_reader(xpt.BATCH_ROWS))


def _link_tree(source: Path, target: Path) -> None:
    """Hard links of a carried-over study's files: a run folder's files are never
    written again once the folder is complete, so sharing them is safe and free."""
    shutil.copytree(source, target, copy_function=os.link)


def _applicable(con, tables, catalog, studies: list[str]) -> dict[str, set[tuple[str, str]]]:
    """study → the (schema, table) pairs it gets files of.

    A table whose metadata names a ``study_flag`` (a config.studies column) applies
    to the studies whose flag is true and to any study with rows in it (rows are
    never dropped); every other table applies to every study."""
    flags = {}
    has_config = table_exists(con, "config", "studies")
    config_columns = {c for c, _ in _columns(con, "config", "studies")} if has_config else set()
    out: dict[str, set[tuple[str, str]]] = {study: set() for study in studies}
    for schema, table in tables:
        flag = (catalog.get((schema, table)) and catalog[(schema, table)].study_flag) or None
        if flag is None:
            for study in studies:
                out[study].add((schema, table))
            continue
        if flag not in flags:
            flags[flag] = (
                {r[0] for r in con.execute(f"SELECT STUDYID FROM config.studies WHERE {_quote(flag)}").fetchall()}
                if flag in config_columns
                else set(studies)  # no such column: nothing says the table does not apply
            )
        with_rows = {
            r[0] for r in con.execute(f"SELECT DISTINCT STUDYID FROM {_quote(schema)}.{_quote(table)}").fetchall()
        }
        for study in studies:
            if study in flags[flag] or study in with_rows:
                out[study].add((schema, table))
    return out


def _write_study(con, study: str, tables, folder: Path, catalog, labels, summary: ExportSummary, created) -> None:
    """Every file of one study: Parquet, XPT, Dataset-JSON, define.xml."""
    from trialdw.submission import datasetjson, define
    from trialdw.submission.facts import study_facts
    from trialdw.submission.metadata import dataset_meta
    from trialdw.warehouse import code_version

    version = code_version()
    for schema, table in tables:
        target = folder / study / schema / f"{table}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        meta = dataset_meta(catalog, schema, table)
        summary.rows[f"{study}/{schema}/{table}"] = _write_parquet(con, schema, table, study, target, meta)
        summary.files.append(target)
    adam = [t for s, t in tables if s == XPT_SCHEMA]
    for table in adam:
        target = folder / study / "xpt" / f"{table}.xpt"
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_xpt(con, table, study, target, labels, summary)
        summary.files.append(target)
    if not adam:
        return
    facts = [study_facts(con, XPT_SCHEMA, t, dataset_meta(catalog, XPT_SCHEMA, t), study) for t in adam]
    for table, table_facts in zip(adam, facts, strict=True):
        target = folder / study / "datasetjson" / f"{table}.json"
        datasetjson.write_dataset_json(con, XPT_SCHEMA, table, study, table_facts, target, created, version)
        summary.files.append(target)
    title = _study_title(con, study)
    xml = define.write_define(folder / study / "define", study, title, facts, created, version)
    summary.files += [xml, xml.with_name("define.html")]


def _study_title(con, study: str) -> str | None:
    has_title = con.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_schema = 'config' AND table_name = 'studies' AND column_name = 'TITLE'"
    ).fetchall()[0][0]
    if not has_title:
        return None
    row = con.execute("SELECT TITLE FROM config.studies WHERE STUDYID = ?", [study]).fetchall()
    return row[0][0] if row else None


def _write_run_folder(
    db_path: Path, folder: Path, summary: ExportSummary, models_dir: Path, changed: set[str] | None,
    carry: Path | None,
) -> None:  # fmt: skip
    catalog = _catalog(models_dir)
    labels = _labels(catalog)
    created = dt.datetime.now(dt.UTC)
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = _tables(con)
        _check_exportable(con, tables)
        summary.studies = tuple(_studies(con, tables))
        summary.unlabelled = [
            f"{t.upper()}.{c}" if s == XPT_SCHEMA else f"{s}.{t}.{c}"
            for s, t in tables
            for c, _ in _columns(con, s, t)
            if not (catalog.get((s, t)) and catalog[(s, t)].columns.get(c) and catalog[(s, t)].columns[c].label)
        ]
        applicable = _applicable(con, tables, catalog, list(summary.studies))
    jobs = []
    for study in summary.studies:
        if changed is not None and study not in changed and carry is not None and (carry / study).is_dir():
            _link_tree(carry / study, folder / study)
            summary.carried.append(study)
            continue
        jobs.append((study, [t for t in tables if t in applicable[study]]))
        summary.skipped += [f"{study}/{s}/{t}" for s, t in tables if (s, t) not in applicable[study]]
    # Encoding XPT and Dataset-JSON holds the GIL: studies are shared out over the cores, the largest first.
    rows = adam_rows_by_study(db_path) if len(jobs) > 1 else {}
    shares = map_shares(
        _write_studies, jobs, db_path, folder, catalog, labels, created, size=lambda job: rows.get(job[0], 0)
    )
    written = {part.studies[0]: part for share in shares for part in share}
    for study in summary.studies:
        if study in written:
            summary.rows.update(written[study].rows)
            summary.files += written[study].files
            summary.non_ascii += written[study].non_ascii
        else:
            summary.files += sorted(p for p in (folder / study).rglob("*") if p.is_file())


def _write_studies(
    jobs: list[tuple[str, list]], db_path: Path, folder: Path, catalog, labels, created: dt.datetime
) -> list[ExportSummary]:
    """Every file of these studies ((study, its tables) each: one share of the
    night's, maybe in a child process), one summary per study."""
    parts = []
    with duckdb.connect(str(db_path), read_only=True) as con:
        for study, tables in jobs:
            part = ExportSummary(run_folder=folder, latest=folder, studies=(study,))
            _write_study(con, study, tables, folder, catalog, labels, part, created)
            parts.append(part)
    return parts


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


def latest_written_from(out_root: Path) -> str | None:
    """The run whose warehouse file the exports under ``out_root/latest`` were
    written from (its ``written-from.txt``; a folder written before that file
    existed: the run that wrote the folder). None: no exports yet."""
    latest = Path(out_root) / LATEST
    if not latest.is_symlink():
        return None
    stamp = latest / WRITTEN_FROM
    return stamp.read_text(encoding="utf-8").strip() if stamp.is_file() else os.readlink(latest)


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
    changed: set[str] | None = None, finish: bool = True, published_by: str | None = None,
    written_from: str | None = None,
) -> ExportSummary:  # fmt: skip
    """Export the warehouse at ``db_path`` (opened read-only) into
    ``out_root/run_id``, point ``out_root/latest`` at it and keep the newest
    ``keep`` run folders. XPT labels come from the dbt yml in ``models_dir``.
    ``changed``: the studies rebuilt this night (None: all); every other study's
    files are carried over from the latest run folder as hard links, when
    that folder holds the exports of ``published_by``, the run that wrote the
    warehouse published before this one. When it does not (that night
    published, then could not finish its exports: ``latest`` still shows an
    older night's files, some of them older than the tables), nothing is
    carried: every study is written again (``summary.not_carried`` says why).
    ``written_from``: the run that wrote (or will publish) ``db_path`` (default
    ``run_id``), kept in the run folder's ``written-from.txt``.
    ``finish``: False leaves the complete run folder under a hidden name
    (``ready_folder``), for ``finish_exports`` to move into place once the file
    it was written from is published; the summary names the folder it will have.
    Raises ExportError, leaving ``latest`` and older runs untouched, when
    something cannot be exported faithfully, or when ``latest`` is not a link
    (a folder or file of that name is never replaced)."""
    db_path, out_root = Path(db_path), Path(out_root)
    if keep < 1:
        raise ValueError("keep must be at least 1 (the run just written)")
    if not _SAFE_FOLDER.match(run_id) or run_id == LATEST:
        raise ExportError(f"run id {run_id!r} is not usable as a folder name")
    if not db_path.exists():
        raise FileNotFoundError(db_path)
    final = out_root / run_id
    latest = out_root / LATEST
    _check_latest_is_a_link(latest)
    if final.exists():
        raise ExportError(f"{final} already exists: exports of run {run_id} were already written")
    out_root.mkdir(parents=True, exist_ok=True)
    partial = _partial_folder(out_root, run_id)
    ready = ready_folder(out_root, run_id)
    for leftover in (partial, ready):  # a crashed attempt of this same run
        if leftover.exists():
            shutil.rmtree(leftover)
    summary = ExportSummary(run_folder=final, latest=latest, studies=())
    partial.mkdir()
    try:
        carry = latest.resolve() if latest.is_dir() and changed is not None else None
        if carry is not None and (behind := latest_written_from(out_root)) != published_by:
            published = f"run {published_by}" if published_by else "a run not given"
            summary.not_carried = (
                f"{LATEST} holds exports of the warehouse of run {behind}, the published "
                f"one was written by {published}: every study is written again"
            )
            carry = None
        _write_run_folder(db_path, partial, summary, Path(models_dir), changed, carry)
        (partial / WRITTEN_FROM).write_text((written_from or run_id) + "\n", encoding="utf-8")
        summary.files.append(partial / WRITTEN_FROM)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(ready)
    summary.files = [final / p.relative_to(partial) for p in summary.files]
    if finish:
        summary.removed = finish_exports(out_root, run_id, keep)
    return summary


def _partial_folder(out_root: Path, run_id: str) -> Path:
    """Where a run folder is written (hidden: not a run until complete)."""
    return Path(out_root) / f".{run_id}.partial"


def ready_folder(out_root: Path, run_id: str) -> Path:
    """Where a complete run folder waits for ``finish_exports`` (hidden: not a run)."""
    return Path(out_root) / f".{run_id}.ready"


def finish_exports(out_root: Path, run_id: str, keep: int = DEFAULT_KEEP) -> list[Path]:
    """The run folder ``write_exports(..., finish=False)`` left ready: moved into
    place as ``out_root/run_id``, ``latest`` pointed at it, run folders beyond the
    newest ``keep`` deleted, and any hidden folder other runs left (killed before
    they finished) removed. Returns the run folders deleted. Idempotent: a
    retry after the move finishes the rest."""
    out_root = Path(out_root)
    final, ready = out_root / run_id, ready_folder(out_root, run_id)
    _check_latest_is_a_link(out_root / LATEST)
    if ready.is_dir():
        ready.rename(final)
    if not final.is_dir():
        raise ExportError(f"no exports of run {run_id} to finish under {out_root}")
    point_latest(out_root, run_id)
    removed = prune(out_root, keep, final)
    for leftover in out_root.glob(".*"):
        if leftover.is_dir() and leftover.name.endswith((".partial", ".ready")):
            shutil.rmtree(leftover, ignore_errors=True)
    return removed


def discard_exports(out_root: Path, run_id: str) -> None:
    """A night that did not publish: its exports, written but not finished, go."""
    shutil.rmtree(ready_folder(out_root, run_id), ignore_errors=True)
    shutil.rmtree(_partial_folder(out_root, run_id), ignore_errors=True)


def _check_latest_is_a_link(latest: Path) -> None:
    if latest.exists() and not latest.is_symlink():
        # Not the link this module keeps (someone's folder or file): never replaced, never deleted.
        raise ExportError(
            f"{latest} is not a symbolic link: move it away (exports point a link of that name at each run)"
        )
