"""Analysis readiness: a Great Expectations checkpoint on the adam tables.

The expectations are data (``data_contracts/readiness.yml``): one suite per
adam table, built at run time. This module only reads the tables, runs GX and
turns its results into one line per failed expectation for the nightly report.
docs/readiness.md says what is checked here and what belongs to pandera or dbt.

GX 1.x has no DuckDB datasource, so each table is read read-only from the
warehouse into a pandas DataFrame (with the contract's derived columns computed
by DuckDB) and validated as a dataframe asset. A GX checkpoint takes a single
set of batch parameters, so each table gets its own checkpoint
(``analysis_readiness.<table>``) in one ephemeral context; the Data Docs site is
built once at the end from all of their results.

``great_expectations`` is imported inside ``run_readiness_checks``: the import
alone takes several seconds.

What people open is our own page, ``docs_dir/index.html``
(trialdw.review_app.readiness_page): self-contained, readable from disk with no
network, with the run's name and each data asset (``adam.adsl``). GX's own Data
Docs are still built beside it (its index as ``gx-index.html``, its validation
pages under ``validations/``) for whoever has the network their styles need;
they carry the run name and the data asset too.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from trialdw.project import PROJECT_ROOT, read_yaml

DEFAULT_CONTRACT = PROJECT_ROOT / "data_contracts" / "readiness.yml"
ADAM_SCHEMA = "adam"
DOCS_SITE_NAME = "analysis_readiness"
MAX_EXAMPLES = 3  # rows quoted per failure line; the full list is in Data Docs
GX_INDEX = "gx-index.html"  # GX's own index page (needs CDNs); ours is index.html
KEEP_FAILED_RUNS = 30  # failed runs whose readiness results are kept for people to read


class ReadinessContractError(ValueError):
    """readiness.yml cannot be used; the message names the table and entry."""


@dataclass(frozen=True)
class ExpectationSpec:
    expectation: str  # GX class name, e.g. ExpectColumnValuesToBeBetween
    kwargs: dict
    why: str

    @property
    def rule(self) -> str:
        return describe_rule(self.expectation, self.kwargs)


@dataclass(frozen=True)
class TableSuite:
    table: str
    row_ids: tuple[str, ...]
    derived: dict[str, str]
    expectations: tuple[ExpectationSpec, ...]

    @property
    def qualified_name(self) -> str:
        return f"{ADAM_SCHEMA}.{self.table}"


@dataclass
class ReadinessResult:
    success: bool
    failures: list[str]
    docs_index: Path | None
    statistics: dict = field(default_factory=dict)
    run_name: str | None = None
    tables: list[dict] = field(default_factory=list)  # per data asset, every check with its outcome
    # The failures again, by the study whose rows fail them (a failing table is
    # validated again study by study), and those no single study explains
    # (a missing table, or a failure no study's rows show alone).
    failures_by_study: dict[str, list[str]] = field(default_factory=dict)
    unattributed: list[str] = field(default_factory=list)

    def held_back(self, studies) -> dict[str, str]:
        """{study: reason} for the studies these results hold back."""
        out = {}
        for study in studies:
            lines = self.failures_by_study.get(study, []) + self.unattributed
            if lines:
                out[study] = "analysis-readiness checks failed: " + "; ".join(lines[:3])
        return out


# ---------------------------------------------------------------- contract


def load_contract(path: Path = DEFAULT_CONTRACT) -> list[TableSuite]:
    """Parse readiness.yml. Structural problems raise; GX class names are
    checked when the suites are built (that needs the GX import)."""
    path = Path(path)
    doc = read_yaml(path, ReadinessContractError, "readiness contract")
    tables = (doc or {}).get("tables")
    if not isinstance(tables, dict) or not tables:
        raise ReadinessContractError(f"{path}: needs a non-empty 'tables' mapping")
    suites = []
    for table, body in tables.items():
        where = f"{path}: tables.{table}"
        if not isinstance(body, dict) or not isinstance(body.get("expectations"), list):
            raise ReadinessContractError(f"{where}: needs an 'expectations' list")
        specs = []
        for i, entry in enumerate(body["expectations"]):
            if not isinstance(entry, dict) or not entry.get("expectation") or not entry.get("why"):
                raise ReadinessContractError(f"{where}.expectations[{i}]: needs 'expectation' and 'why'")
            specs.append(
                ExpectationSpec(str(entry["expectation"]), dict(entry.get("kwargs") or {}), str(entry["why"]).strip())
            )
        suites.append(
            TableSuite(
                table=str(table),
                row_ids=tuple(body.get("row_ids") or ("USUBJID",)),
                derived={str(k): str(v) for k, v in (body.get("derived") or {}).items()},
                expectations=tuple(specs),
            )
        )
    return suites


def describe_rule(expectation: str, kwargs: dict) -> str:
    """A short, statistician-readable form of one expectation ('AVAL >= 1')."""
    col = kwargs.get("column")
    if expectation == "ExpectColumnValuesToBeBetween":
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        strict_min, strict_max = kwargs.get("strict_min"), kwargs.get("strict_max")
        hi_op = "<" if strict_max else "<="
        if lo is not None and hi is not None:
            return f"{lo} {'<' if strict_min else '<='} {col} {hi_op} {hi}"
        return f"{col} {'>' if strict_min else '>='} {lo}" if lo is not None else f"{col} {hi_op} {hi}"
    if expectation == "ExpectColumnPairValuesAToBeGreaterThanB":
        op = ">=" if kwargs.get("or_equal") else ">"
        return f"{kwargs.get('column_A')} {op} {kwargs.get('column_B')}"
    if expectation == "ExpectColumnPairValuesToBeEqual":
        return f"{kwargs.get('column_A')} = {kwargs.get('column_B')}"
    if expectation == "ExpectColumnValuesToBeInSet":
        values = kwargs.get("value_set") or []
        if values == [True]:
            return str(col)  # a derived yes/no rule: its name says what must hold
        return f"{col} in {{{', '.join(map(str, values))}}}"
    if expectation == "ExpectColumnValuesToNotBeInSet":
        return f"{col} not in {{{', '.join(map(str, kwargs.get('value_set') or []))}}}"
    if expectation == "ExpectColumnValuesToNotBeNull":
        return f"{col} not null"
    if expectation == "ExpectColumnValuesToBeNull":
        return f"{col} null"
    return f"{expectation}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"


# ---------------------------------------------------------------- reading


COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")  # expectation arguments that name columns


def checked_columns(suite: TableSuite) -> list[str]:
    """Every column an expectation of the suite names."""
    named = []
    for spec in suite.expectations:
        for key in COLUMN_KWARGS:
            value = spec.kwargs.get(key)
            named += value if isinstance(value, list) else [value] if value else []
    return list(dict.fromkeys(named))


def suite_columns(suite: TableSuite) -> list[str]:
    """The table's columns a suite needs: STUDYID (attribution), the row ids and
    the checked columns, in that order, without the derived ones."""
    named = ["STUDYID", *suite.row_ids, *checked_columns(suite)]
    return [c for c in dict.fromkeys(named) if c not in suite.derived]


def _pandas_types(arrow_type):
    """Integers stay integers with NULLs (AESEQ=3, not 3.0), as DuckDB's own .df() gives them."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.api.types.pandas_dtype(str(arrow_type).replace("int", "Int").replace("uInt", "UInt"))
    return None


def read_table(con, suite: TableSuite):
    """The columns of the adam table the suite needs, plus the contract's derived
    columns, as pandas. Text columns that only identify rows (STUDYID, the row
    ids) become categories: an id repeated over a million single-cell rows is
    stored once. Checked columns keep their plain types (two categoricals do
    not compare).

    Only named columns are read, so a portfolio's ADGF costs a few bytes a row in
    memory, not its whole width. A column the contract names but the table lacks
    is not read; GX then reports that check as one that could not run.
    Returns None when the table does not exist (a failure: dbt builds every
    adam model, empty or not)."""
    columns = [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?"
            " ORDER BY ordinal_position",
            [ADAM_SCHEMA, suite.table],
        ).fetchall()
    ]
    if not columns:
        return None
    wanted = [c for c in suite_columns(suite) if c in columns]
    selected = [f't."{c}"' for c in wanted] + [f'({sql}) AS "{name}"' for name, sql in suite.derived.items()]
    query = f'SELECT {", ".join(selected) or "1 AS _row"}\nFROM {ADAM_SCHEMA}."{suite.table}" AS t'
    arrow = con.sql(query).arrow()
    arrow = arrow.read_all() if hasattr(arrow, "read_all") else arrow  # DuckDB 1.4+ hands out a reader
    return _ids_as_categories(arrow, set(wanted) - set(checked_columns(suite))).to_pandas(
        date_as_object=False, types_mapper=_pandas_types
    )


def _ids_as_categories(table, id_columns: set[str]):
    """Dictionary-encode the text columns in id_columns (pandas reads them as categories)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, column in enumerate(table.schema):
        is_text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if column.name in id_columns and is_text:
            table = table.set_column(i, column.name, pc.dictionary_encode(table.column(i)))
    return table


# ---------------------------------------------------------------- GX


def import_gx():
    """great_expectations, imported with its usage statistics off (~2.8 s the
    first time in a process: trialdw.parallel.warm_workers does it ahead)."""
    # analytics_enabled=False in the context governs the context; the variable
    # also covers anything GX decides at import time. No network is needed or used.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


def _quiet_gx_context(docs_dir: Path):
    """An in-memory GX context: no usage statistics, no progress bars, one
    local Data Docs site in docs_dir (and not GX's default temp-dir site)."""
    gx = import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            DOCS_SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx, gx.get_context(mode="ephemeral", project_config=config)


def _build_suite(gx, suite: TableSuite):
    gx_suite = gx.ExpectationSuite(name=suite.qualified_name)
    for i, spec in enumerate(suite.expectations):
        cls = getattr(gx.expectations, spec.expectation, None)
        if cls is None:
            raise ReadinessContractError(
                f"readiness.yml: tables.{suite.table}.expectations[{i}]: "
                f"'{spec.expectation}' is not a Great Expectations expectation class"
            )
        # meta carries what the failure line needs: the readable rule, the
        # contract's class name and position (GX does not keep result order).
        gx_suite.add_expectation(
            cls(
                **spec.kwargs,
                notes=spec.why,
                meta={"rule": spec.rule, "contract_expectation": spec.expectation, "contract_position": i},
            )
        )
    return gx_suite


def _exception_message(expectation_result) -> str | None:
    """GX reports errors either flat or keyed by metric; return the first message."""
    info = expectation_result.exception_info or {}
    if info.get("raised_exception"):
        return info.get("exception_message")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message")
    return None


def _plain(value) -> str:
    """Dates arrive from pandas as midnight Timestamps; show them as dates."""
    if hasattr(value, "isoformat") and hasattr(value, "hour") and (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.date().isoformat()
    return str(value)


def example_rows(result: dict, row_ids: tuple[str, ...], limit: int = MAX_EXAMPLES) -> list[str]:
    """The ids of failing rows GX kept (SUMMARY: the first 20), as 'USUBJID=… PARAMCD=…'."""
    rows = []
    for index_row in result.get("partial_unexpected_index_list") or result.get("unexpected_index_list") or []:
        if isinstance(index_row, dict):
            row = " ".join(f"{c}={_plain(index_row[c])}" for c in row_ids if c in index_row)
            if row not in rows:
                rows.append(row)
        if len(rows) == limit:
            break
    return rows


def _examples(result: dict, row_ids: tuple[str, ...]) -> str:
    rows = example_rows(result, row_ids)
    return f" (e.g. {'; '.join(rows)})" if rows else ""


def check_outcome(suite: TableSuite, expectation_result) -> dict:
    """One check as the readiness page shows it (passes too)."""
    config = expectation_result.expectation_config
    meta = config.meta or {}
    position = meta.get("contract_position")
    spec = suite.expectations[position] if isinstance(position, int) and position < len(suite.expectations) else None
    result = expectation_result.result or {}
    return {
        "rule": meta.get("rule") or config.type,
        "expectation": meta.get("contract_expectation") or config.type,
        "why": spec.why if spec else (config.notes or ""),
        "success": bool(expectation_result.success),
        "error": _exception_message(expectation_result),
        "unexpected_count": result.get("unexpected_count"),
        "element_count": result.get("element_count"),
        "examples": example_rows(result, suite.row_ids, limit=20),
    }


def keep_failed_results(docs_dir: Path, failed_runs: Path, run_id: str) -> Path:
    """Copy a failed run's readiness results to ``failed_runs/<run_id>/readiness/`` (the run's own
    reports folder is thrown away with the run) and keep the newest KEEP_FAILED_RUNS runs there.
    Returns the copy's index.html."""
    target = Path(failed_runs) / run_id / "readiness"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(docs_dir, target)
    runs = sorted((p for p in Path(failed_runs).iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in runs[:-KEEP_FAILED_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
    return target / "index.html"


def failure_line(suite: TableSuite, expectation_result) -> str:
    """One line per failed expectation:
    'adam.adtte: AVAL >= 1 failed for 2 of 40 rows (e.g. USUBJID=… PARAMCD=OS) [ExpectColumnValuesToBeBetween]'."""
    config = expectation_result.expectation_config
    meta = config.meta or {}
    rule = meta.get("rule") or config.type
    class_name = meta.get("contract_expectation") or config.type
    error = _exception_message(expectation_result)
    if error:
        return f"{suite.qualified_name}: {rule} could not be evaluated: {error} [{class_name}]"
    result = expectation_result.result or {}
    counts = ""
    if result.get("unexpected_count") is not None:
        counts = f" for {result['unexpected_count']} of {result.get('element_count')} rows"
    return f"{suite.qualified_name}: {rule} failed{counts}{_examples(result, suite.row_ids)} [{class_name}]"


def run_readiness_checks(
    db_path: Path, docs_dir: Path, contract_path: Path = DEFAULT_CONTRACT, run_name: str | None = None,
    skipped_tables: tuple[str, ...] = (),
) -> ReadinessResult:  # fmt: skip
    """Validate the adam tables of the warehouse at db_path against the
    readiness contract and build the results pages under docs_dir.

    success is False when any expectation fails or cannot be evaluated, or a
    contracted table is missing; each such case is one line in failures.
    The warehouse is opened read-only and never changed. ``run_name``: what the
    pages call this run (the nightly passes its run id); default ``readiness-<UTC time>``.
    ``skipped_tables``: contracted tables the build did not make on purpose (a
    build of studies without single-cell data: trialdw.study_build); not checked.
    """
    import duckdb

    started = time.perf_counter()
    run_name = run_name or "readiness-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    problems: dict[str, str] = {}  # table -> why it could not be checked
    suites = [suite for suite in load_contract(contract_path) if suite.table not in skipped_tables]
    docs_dir = Path(docs_dir).resolve()  # GX resolves a relative site path against no project root
    unreadable: list[str] = []  # tables missing or unreadable: listed first, no study explains them
    check_failures: list[str] = []
    tables_stats: dict[str, dict] = {}

    gx, context = _quiet_gx_context(docs_dir)
    import_done = time.perf_counter()
    # Build every suite before validating any, so a typo in the contract
    # stops the run before it has produced partial results.
    gx_suites = {suite.table: _build_suite(gx, suite) for suite in suites}
    datasource = context.data_sources.add_pandas(ADAM_SCHEMA)
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
    counts = {"evaluated": 0, "successful": 0}
    outcomes: dict[str, list[dict]] = {}

    def validate(suite: TableSuite, frame, name: str, primary: bool = True) -> list[str]:
        """Run the table's suite on ``frame`` as data asset ``adam.<name>``; failure lines.
        ``primary``: the whole table (counted in the statistics and the results
        page), not a study-by-study re-run for attribution."""
        batch = datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole_table")
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{ADAM_SCHEMA}.{name}", data=batch, suite=gx_suites[suite.table])
        )
        row_ids = [c for c in suite.row_ids if c in frame.columns]
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{DOCS_SITE_NAME}.{name}",
                validation_definitions=[validation],
                # SUMMARY keeps the ids of the first 20 failing rows (the failure line
                # quotes a few); COMPLETE would carry every failing row into the
                # results and the Data Docs pages, which a bad night could make huge.
                result_format={"result_format": "SUMMARY", "unexpected_index_column_names": row_ids},
            )
        )
        run = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
        lines = []
        for key, validation_result in run.run_results.items():
            # A dataframe batch has no asset name where GX's pages look for one ("Data asset: None").
            validation_result.meta.setdefault("batch_spec", {})["data_asset_name"] = f"{ADAM_SCHEMA}.{name}"
            context.validation_results_store.set(key, validation_result)
            if primary:
                counts["evaluated"] += validation_result.statistics["evaluated_expectations"]
                counts["successful"] += validation_result.statistics["successful_expectations"]
            in_contract_order = sorted(
                validation_result.results, key=lambda r: (r.expectation_config.meta or {}).get("contract_position", 0)
            )
            for expectation_result in in_contract_order:
                if primary:
                    outcomes.setdefault(suite.table, []).append(check_outcome(suite, expectation_result))
                if not expectation_result.success:
                    lines.append(failure_line(suite, expectation_result))
            if not primary:  # a re-run for attribution only: not a result page of its own
                context.validation_results_store.remove_key(key)
        return lines

    # One table at a time, its frame dropped before the next is read: memory is
    # bounded by the largest table's needed columns, not the sum of all tables.
    by_study: dict[str, list[str]] = {}
    attribution_gaps: list[str] = []
    read_seconds = 0.0
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for suite in suites:
            read_started = time.perf_counter()
            try:
                frame = read_table(con, suite)
            except duckdb.Error as exc:  # e.g. a derived column names a missing column
                frame, problems[suite.table] = None, f"could not be read for the readiness checks: {exc}"
            else:
                if frame is None:
                    problems[suite.table] = "table missing from the warehouse"
            read_seconds += time.perf_counter() - read_started
            if frame is None:
                unreadable.append(f"{suite.qualified_name}: {problems[suite.table]}")
                continue
            context.suites.add(gx_suites[suite.table])
            lines = validate(suite, frame, suite.table)
            check_failures += lines
            tables_stats[suite.table] = {
                "rows": len(frame),
                "expectations": len(suite.expectations),
                "failed": len(lines),
            }
            if lines:
                attribution_gaps += _attribute(suite, frame, lines, validate, by_study)
            del frame
    finally:
        con.close()
    failures = unreadable + check_failures
    unattributed = unreadable + attribution_gaps
    validate_done = time.perf_counter()

    docs_dir.mkdir(parents=True, exist_ok=True)
    # GX's index builder deletes pages whose results are not in this context
    # (skip_and_clean_missing), so last night's pages do not linger; files of
    # other origin in docs_dir are left alone.
    context.build_data_docs(site_names=[DOCS_SITE_NAME])
    tables = _table_results(suites, tables_stats, outcomes, problems, docs_dir)
    index = _write_results_page(docs_dir, run_name, contract_path, failures, tables)
    finished = time.perf_counter()

    return ReadinessResult(
        success=not failures,
        failures=failures,
        failures_by_study=by_study,
        unattributed=unattributed,
        docs_index=index if index.is_file() else None,
        run_name=run_name,
        tables=tables,
        statistics={
            "tables": tables_stats,
            "evaluated_expectations": counts["evaluated"],
            "successful_expectations": counts["successful"],
            "unsuccessful_expectations": counts["evaluated"] - counts["successful"],
            "seconds": {
                "gx_import_and_context": round(import_done - started, 3),
                "read_tables": round(read_seconds, 3),
                "validate": round(validate_done - import_done - read_seconds, 3),
                "data_docs": round(finished - validate_done, 3),
                "total": round(finished - started, 3),
            },
        },
    )


def _attribute(suite: TableSuite, frame, lines: list[str], validate, by_study: dict[str, list[str]]) -> list[str]:
    """Validate a failing table again study by study; the failures of each study
    go to ``by_study``. Returns the lines no study explains on its own (then every
    study in the table is held back)."""
    if "STUDYID" not in frame.columns or frame.empty:
        return lines
    found = False
    for study, rows in frame.groupby("STUDYID", sort=True, observed=True):
        study_lines = validate(suite, rows.reset_index(drop=True), f"{suite.table}.{study}", primary=False)
        if study_lines:
            found = True
            by_study.setdefault(str(study), []).extend(study_lines)
    return [] if found else lines


def _table_results(suites, stats: dict, outcomes: dict, problems: dict, docs_dir: Path) -> list[dict]:
    """Per data asset, in contract order: rows, checks with outcomes, and GX's own page for it."""
    tables = []
    for suite in suites:
        pages = sorted((docs_dir / "validations" / ADAM_SCHEMA / suite.table).rglob("*.html"))
        tables.append(
            {
                "asset": suite.qualified_name,
                "table": suite.table,
                "rows": stats.get(suite.table, {}).get("rows"),
                "problem": problems.get(suite.table),
                "checks": outcomes.get(suite.table, []),
                "failed": sum(not c["success"] for c in outcomes.get(suite.table, [])) + (suite.table in problems),
                "gx_page": pages[-1].relative_to(docs_dir).as_posix() if pages else None,
            }
        )
    return tables


def _write_results_page(
    docs_dir: Path, run_name: str, contract_path: Path, failures: list[str], tables: list[dict]
) -> Path:
    """Our self-contained index.html; GX's own index (CDN-dependent) moves to gx-index.html."""
    from trialdw.review_app.readiness_page import render_readiness_page

    gx_index = docs_dir / "index.html"
    if gx_index.is_file():
        os.replace(gx_index, docs_dir / GX_INDEX)
    index = docs_dir / "index.html"
    index.write_text(
        render_readiness_page(
            run_name=run_name,
            contract=Path(contract_path).name,
            failures=failures,
            tables=tables,
            gx_index=GX_INDEX if (docs_dir / GX_INDEX).is_file() else None,
        ),
        encoding="utf-8",
    )
    return index
