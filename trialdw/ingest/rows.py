"""Row validation of an accepted transfer: every data row ends up either valid
(Parquet for raw.<domain>) or quarantined (Parquet for audit.quarantine) with its
findings.

Files are not read again here: the transfer check parsed each one once
(csvnative.ParsedFile, with SOURCE_LINE = the physical line where a record starts
even after embedded line breaks and blank lines). Validation reads it back in
batches of csvnative.BATCH records, so memory stays bounded whatever the file's
size, and writes the valid rows, the quarantined rows and the findings as it
goes. Every type and format is a *check* on text, so one bad value never hides
another. Rules come from data_contracts/<DOMAIN>.yml through
contracts.build_schema (pandera, polars backend), applied per batch; pandera's
failure cases give the row positions.

Two checks need more than one batch:
- the duplicate record key is a question about the whole file: DuckDB groups the
  parsed file's key columns first (``duplicate_lines``; it spills to disk for a
  huge file) and every row of a shared key gets its finding naming all the lines;
- orphans need the subjects of DM's accepted rows: DM is validated first. Every
  orphan row is quarantined (rule ``orphan``), but the findings collapse into one
  root-cause finding per subject (``orphan_subject``) naming why the DM row is
  missing and how many rows of which domains it holds back.

Choices where the spec is silent:
- The extra-columns warning is one finding per file with SOURCE_LINE 1 (the
  header, where the extra column is) and COLUMN_NAME the extra names.
- An empty field is NULL; a field of spaces only is kept as sent and gets a
  ``whitespace`` finding.
- A record key with an empty part cannot identify a record across transfers, so
  that finding's identity also uses the line (it may reappear under a new id).
- A duplicate key's message lists at most MAX_LINES_LISTED lines (then "… (N
  lines)"); audit.finding_occurrences has every one.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from trialdw.ingest import contracts as C
from trialdw.ingest import rules as R
from trialdw.ingest.csvnative import LINE as PARSED_LINE
from trialdw.ingest.csvnative import ParsedFile, duckdb_cursor, scan_file
from trialdw.ingest.findings import FINDING_SCHEMA, ROW, finding_ids, findings_frame, row_finding_id
from trialdw.ingest.types import (
    FINDING_COLUMNS,
    DomainOutput,
    FileInfo,
    ReconciliationError,
    TransferCheck,
    TransferRef,
    ValidatedTransfer,
)
from trialdw.parallel import thread_pool
from trialdw.project import ALL_DOMAINS

LINE = "_source_line"
# A valid row's lineage in the valid Parquet file: its line and the columns the
# contract does not know. Which transfer and file it came from is the
# DomainOutput's (the same for every row), so the file holds only what the bytes
# sent determine, and a file sent again byte for byte has the same one (ValidatedFiles).
LINEAGE = ("_source_line", "_extra")
QUARANTINE_COLUMNS = (
    "STUDYID",
    "SITEID",
    "TRANSFER_ID",
    "DOMAIN",
    "SOURCE_FILE",
    "SOURCE_LINE",
    "USUBJID",
    "RULES",
    "RECORD",
)
QUARANTINE_SCHEMA = {c: (pl.Int64 if c == "SOURCE_LINE" else pl.String) for c in QUARANTINE_COLUMNS}
ORPHAN_SUBJECT = "orphan_subject"
MAX_LINES_LISTED = 100
PARQUET_COMPRESSION = ("zstd", 1)  # what pl.write_parquet used (zstd), at its fastest level


# --- writing Parquet batch by batch ------------------------------------------------------


class _ParquetSink:
    """Append polars frames of one schema to a Parquet file (an empty file still has it).

    Encoding and compressing Parquet is a good part of validation's cost and pyarrow
    does it without the GIL, so it runs on a background thread while the next batch
    is checked: the second core works too. At most one batch per file is in flight
    (memory stays bounded); an error surfaces at the next write or at close."""

    def __init__(self, path: Path, schema: dict):
        import pyarrow.parquet as pq

        self.path = path
        self.schema = pl.DataFrame(schema=schema).to_arrow().schema
        codec, level = PARQUET_COMPRESSION
        self._writer = pq.ParquetWriter(str(path), self.schema, compression=codec, compression_level=level)
        self._pending: Future | None = None
        self.rows = 0

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._wait()
            self._pending = thread_pool("parquet", 1).submit(
                lambda: self._writer.write_table(frame.to_arrow().cast(self.schema))
            )
            self.rows += frame.height

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._writer.close()


# --- the whole-file duplicate-key pass ----------------------------------------------------


def _shared_hashes(parsed: ParsedFile, key: list[str]) -> np.ndarray:
    """The 64-bit key hashes that occur more than once in the file (sorted).

    One pass over the parsed file keeping 8 bytes per record (a sort, no hash
    table): whether a key is shared is a question about the whole file, and in
    almost every file the answer is no."""
    hashes = [batch.select(pl.struct(key).hash()).to_series().to_numpy() for batch in parsed.batches(key)]
    if not hashes:
        return np.empty(0, np.uint64)
    ordered = np.concatenate(hashes)
    del hashes
    ordered.sort()  # in place: one array of 8 bytes per record, no copy
    return np.unique(ordered[1:][ordered[1:] == ordered[:-1]])


def duplicate_lines(parsed: ParsedFile, key: tuple[str, ...]) -> pl.DataFrame:
    """``_source_line`` → the lines of every row sharing its record key ("5, 9 and 12"),
    for the rows whose key is shared; empty when none is. NULL parts compare equal
    (an empty field is the same value on every row).

    The key hashes find the candidates (``_shared_hashes``); only the rows with a
    shared hash are then grouped by their real key values, by DuckDB from a stream
    of batches (beyond its memory limit it spills to disk, for a file where many
    rows are duplicated)."""
    import pyarrow as pa

    present = [k for k in key if k in parsed.header]
    schema = {LINE: pl.Int64, R.DUPLICATE_LINES: pl.String}
    if not parsed.records or not present:
        return pl.DataFrame(schema=schema)
    shared = _shared_hashes(parsed, present)
    if not shared.size:
        return pl.DataFrame(schema=schema)
    candidates = pl.Series(shared)

    def candidate_rows():
        for batch in parsed.batches(present):
            yield from batch.filter(pl.struct(present).hash().is_in(candidates.implode())).to_arrow().to_batches()

    layout = pl.DataFrame(schema={**dict.fromkeys(present, pl.String), PARSED_LINE: pl.Int64}).to_arrow().schema
    stream = pa.RecordBatchReader.from_batches(layout, candidate_rows())
    keys = ", ".join(f'"{k}"' for k in present)
    cursor = duckdb_cursor()
    try:
        cursor.register("_candidates", stream)
        found = cursor.sql(
            f"""WITH shared AS (
                   SELECT list("{PARSED_LINE}" ORDER BY "{PARSED_LINE}")::VARCHAR[] AS lines
                   FROM _candidates GROUP BY {keys} HAVING count(*) > 1)
                SELECT unnest(lines)::BIGINT AS "{LINE}",
                       CASE WHEN len(lines) > {MAX_LINES_LISTED}
                            THEN array_to_string(lines[1:{MAX_LINES_LISTED}], ', ')
                                 || ', … (' || len(lines) || ' lines)'
                            ELSE array_to_string(lines[1:len(lines) - 1], ', ') || ' and ' || lines[-1]
                       END AS "{R.DUPLICATE_LINES}"
                FROM shared"""
        ).to_arrow_table()
        cursor.unregister("_candidates")
    finally:
        cursor.close()
    return pl.from_arrow(found).cast(schema).sort(LINE)


# --- pandera failures → findings and quarantine rules -------------------------------------


def _required_check(column: str) -> R.RowCheck:
    return R.RowCheck(
        "required", column, pl.col(column).is_not_null(), pl.format("{} is empty; a value is required", pl.lit(column))
    )


def _failures(schema, checks: dict, frame: pl.DataFrame) -> list[tuple[R.RowCheck, pl.Series]]:
    """Run pandera over one batch; (check, failing row positions) pairs."""
    import pandera.polars as pa
    from pandera.config import ValidationDepth, config_context

    # Eager frame and explicit depth: with a LazyFrame pandera checks only the schema.
    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            schema.validate(frame, lazy=True)
            return []
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
    result = []
    grouped = cases.group_by(["check", "column"], maintain_order=True).agg(
        pl.col("index").unique().sort(), pl.col("index").null_count().alias("no_index")
    )
    for name, column, index, no_index in grouped.iter_rows():
        if name == "not_nullable":
            check = _required_check(column)
        elif name in checks:
            check = checks[name]
        else:  # a failure we did not ask for (e.g. a check that raised): never swallow it
            raise RuntimeError(
                f"unexpected pandera failure {name!r} on column {column!r}: "
                f"{cases.filter(pl.col('check') == name).head(3)}"
            )
        if no_index:
            raise RuntimeError(f"pandera reported check {name!r} without row positions")
        result.append((check, pl.Series("_i", index, dtype=pl.Int64).drop_nulls()))
    return result


class _FileChecks:
    """The contract's checks for one file: a one-pass filter for suspect rows, and a
    pandera schema of the checks some suspect row may fail, built only then.

    Why: pandera runs each check as its own query, with a fixed cost per check, per
    call and per schema built (~45 ms a call with every check of a contract); most
    rows, and most files, pass everything. Every check is row-local (the one that is
    not, the duplicate key, reads a column computed over the whole file), so pandera
    run on the suspect rows alone reports exactly what it would on the whole batch;
    and a check that holds (true, not null) on every suspect row passes in pandera
    too (the same expression), so pandera is given only the others. Required values
    stay pandera's own not_nullable check, on every column."""

    def __init__(self, contract, ctx: R.RuleContext):
        self.contract, self.ctx = contract, ctx
        self.checks = C.row_checks(contract, ctx)
        self._fails = [~check.ok.fill_null(False) for check in self.checks]  # null: let pandera judge
        missing = [pl.col(spec.name).is_null() for spec in contract.columns if not spec.nullable]
        self.suspect = pl.any_horizontal([*self._fails, *missing])
        self._schemas: dict[tuple[int, ...], tuple] = {}

    def failures(self, frame: pl.DataFrame) -> list[tuple[R.RowCheck, pl.Series]]:
        """pandera's failures of one batch, with positions in the batch."""
        flags = frame.select(self.suspect.alias("_suspect")).to_series()
        if not flags.any():
            return []
        suspects = frame.filter(flags)
        may_fail = suspects.select([fails.any().alias(str(i)) for i, fails in enumerate(self._fails)]).row(0)
        chosen = tuple(i for i, fails in enumerate(may_fail) if fails)
        if chosen not in self._schemas:
            self._schemas[chosen] = C.build_schema(self.contract, self.ctx, [self.checks[i] for i in chosen])
        schema, by_name = self._schemas[chosen]
        positions = flags.arg_true().cast(pl.Int64)
        return [(check, positions.gather(index)) for check, index in _failures(schema, by_name, suspects)]


def _key_text(key: tuple[str, ...]) -> pl.Expr:
    return pl.concat_str([pl.col(k).fill_null("") for k in key], separator="|")


def _as_sent(column: str, columns) -> pl.Expr:
    return (pl.col(column) if column in columns else pl.lit(None, pl.String)).alias(column)


def _row_findings(ref: TransferRef, contract, frame: pl.DataFrame, failures, source_file: str) -> pl.DataFrame:
    """One finding per (row, column, rule), with messages evaluated on failing rows."""
    key_complete = pl.all_horizontal([pl.col(k).is_not_null() for k in contract.record_key])
    pieces = [
        frame[index].select(
            pl.lit(contract.domain).alias("DOMAIN"),
            _as_sent("USUBJID", frame.columns),
            _key_text(contract.record_key).alias("RECORD_KEY"),
            key_complete.alias("_key_complete"),
            pl.col(LINE).alias("SOURCE_LINE"),
            _as_sent("VISIT", contract.column_names),
            _as_sent("VISITNUM", contract.column_names),
            pl.lit(check.column).alias("COLUMN_NAME"),
            check.value_expr.cast(pl.String).alias("VALUE"),
            pl.lit(check.rule).alias("RULE"),
            pl.lit(check.severity).alias("SEVERITY"),
            check.message.cast(pl.String).alias("MESSAGE"),
        )
        for check, index in failures
    ]
    if not pieces:
        return findings_frame([])
    found = pl.concat(pieces)
    # Identity: study|site|domain|record key|column|rule; the line joins an incomplete key.
    identity = pl.concat_str(
        [
            pl.lit(ref.study),
            pl.lit(ref.site),
            pl.lit(contract.domain),
            pl.when(pl.col("_key_complete"))
            .then(pl.col("RECORD_KEY"))
            .otherwise(pl.format("{}@line{}", pl.col("RECORD_KEY"), pl.col("SOURCE_LINE"))),
            pl.col("COLUMN_NAME"),
            pl.col("RULE"),
        ],
        separator="|",
    )
    found = found.with_columns(
        finding_ids(found.select(identity).to_series()).alias("FINDING_ID"),
        pl.lit(ref.study).alias("STUDYID"),
        pl.lit(ref.site).alias("SITEID"),
        pl.lit(ref.transfer_id).alias("TRANSFER_ID"),
        pl.lit(source_file).alias("SOURCE_FILE"),
        pl.lit(ROW).alias("CATEGORY"),
    )
    return found.select(FINDING_COLUMNS).sort("SOURCE_LINE", "COLUMN_NAME", "RULE")


def _extra_columns_finding(ref, contract, extras, source_file) -> dict:
    names = ",".join(extras)
    return {
        "FINDING_ID": row_finding_id(ref.study, ref.site, contract.domain, "", names, "extra_columns"),
        "STUDYID": ref.study,
        "SITEID": ref.site,
        "TRANSFER_ID": ref.transfer_id,
        "DOMAIN": contract.domain,
        "USUBJID": None,
        "RECORD_KEY": None,
        "SOURCE_FILE": source_file,
        "SOURCE_LINE": 1,
        "COLUMN_NAME": names,
        "VALUE": None,
        "RULE": "extra_columns",
        "SEVERITY": R.WARNING,
        "CATEGORY": ROW,
        "MESSAGE": f"{contract.file_name} has column(s) not in the contract: {', '.join(extras)} "
        f"(kept in _extra, not validated)",
    }


# --- one file ------------------------------------------------------------------------------


@dataclass
class FileResult:
    """What validating one file leaves for the rest of the transfer."""

    output: DomainOutput
    subjects: frozenset[str] = frozenset()  # DM: USUBJIDs of the accepted rows
    dm_rejects: pl.DataFrame | None = None  # DM: USUBJID, SOURCE_LINE, MESSAGE of its reject findings
    orphans: pl.DataFrame | None = None  # USUBJID, SEVERITY, DOMAIN, SOURCE_FILE, ROWS, FIRST_LINE
    # The file's values the orphan rule looked up among DM's accepted subjects
    # (empty without such a rule): all the outcome depends on of ctx.dm_subjects.
    looked_up: frozenset[str] = frozenset()


def _batch_frame(batch: pl.DataFrame, contract, duplicates: pl.DataFrame) -> pl.DataFrame:
    """A parsed batch as the checks see it: every contract column (absent ones NULL),
    SOURCE_LINE and the whole-file duplicate-key lines."""
    frame = batch.rename({PARSED_LINE: LINE})
    frame = frame.with_columns(
        [pl.lit(None, pl.String).alias(c) for c in contract.column_names if c not in frame.columns]
    )
    if duplicates.height:
        return frame.join(duplicates, on=LINE, how="left", maintain_order="left")
    return frame.with_columns(pl.lit(None, pl.String).alias(R.DUPLICATE_LINES))


def _quarantine_rules(failures) -> pl.DataFrame:
    """Row position → comma-joined rule names of its reject failures (orphan included)."""
    pieces = [
        pl.DataFrame({"_i": index, "RULES": pl.repeat(check.rule, index.len(), eager=True, dtype=pl.String)})
        for check, index in failures
        if check.severity == R.REJECT
    ]
    if not pieces:
        return pl.DataFrame(schema={"_i": pl.Int64, "RULES": pl.String})
    return pl.concat(pieces).group_by("_i").agg(pl.col("RULES").unique().sort().str.join(","))


def _orphan_tally(contract, frame: pl.DataFrame, failures, source_file: str) -> pl.DataFrame | None:
    """Per subject: how many rows of this batch the orphan rule holds back."""
    pieces = [
        frame[index]
        .group_by("USUBJID")
        .agg(pl.len().alias("ROWS"), pl.col(LINE).min().alias("FIRST_LINE"))
        .with_columns(
            pl.lit(check.severity).alias("SEVERITY"),
            pl.lit(contract.domain).alias("DOMAIN"),
            pl.lit(source_file).alias("SOURCE_FILE"),
        )
        for check, index in failures
        if check.rule == R.ORPHAN
    ]
    return pl.concat(pieces) if pieces else None


def _lineage(extras: list[str]) -> list[pl.Expr]:
    """The lineage columns of a valid row (LINEAGE)."""
    return [
        pl.col(LINE).alias("_source_line"),
        (pl.struct(extras).struct.json_encode() if extras else pl.lit(None, pl.String)).alias("_extra"),
    ]


def _quarantine_rows(ref: TransferRef, contract, source_file: str, header, held: pl.DataFrame) -> pl.DataFrame:
    """audit.quarantine rows: the record as sent (an empty field is "", as in the
    file) with the names of the rules it broke."""
    usubjid = pl.col("USUBJID").fill_null("") if "USUBJID" in header else pl.lit(None, pl.String)
    return held.select(
        pl.lit(ref.study).alias("STUDYID"),
        pl.lit(ref.site).alias("SITEID"),
        pl.lit(ref.transfer_id).alias("TRANSFER_ID"),
        pl.lit(contract.domain).alias("DOMAIN"),
        pl.lit(source_file).alias("SOURCE_FILE"),
        pl.col(LINE).alias("SOURCE_LINE"),
        usubjid.alias("USUBJID"),
        pl.col("RULES"),
        pl.struct([pl.col(c).fill_null("") for c in header]).struct.json_encode().alias("RECORD"),
    )


def validate_file(
    ref: TransferRef, contract, parsed: ParsedFile, ctx: R.RuleContext, out_dir: Path, findings: _ParquetSink
) -> FileResult:
    """Validate one parsed domain file batch by batch: valid and quarantine Parquet
    files written, findings appended to ``findings``."""
    source_file = ref.source_file(contract.file_name)
    header = parsed.header
    extras = [c for c in header if c not in contract.column_names]
    checks = _FileChecks(contract, ctx)
    duplicates = duplicate_lines(parsed, contract.record_key)
    out_dir.mkdir(parents=True, exist_ok=True)
    valid_sink = _ParquetSink(
        out_dir / f"{contract.domain}.valid.parquet",
        {**dict.fromkeys(contract.column_names, pl.String), **dict.fromkeys(LINEAGE, pl.String), LINE: pl.Int64},
    )
    quarantine_sink = _ParquetSink(out_dir / f"{contract.domain}.quarantine.parquet", QUARANTINE_SCHEMA)
    lineage = _lineage(extras)
    orphan_columns = sorted({check.column for check in checks.checks if check.rule == R.ORPHAN})
    looked_up: set[str] = set()
    sent = 0
    subjects: set[str] = set()
    dm_rejects, orphans = [], []
    try:
        for batch in parsed.batches():
            frame = _batch_frame(batch, contract, duplicates)
            checked = frame.select(*contract.column_names, LINE, R.DUPLICATE_LINES)
            failures = checks.failures(checked)
            reported = [(check, index) for check, index in failures if check.rule != R.ORPHAN]
            found = _row_findings(ref, contract, frame, reported, source_file)
            findings.write(found)
            for column in orphan_columns:
                looked_up.update(frame.get_column(column).drop_nulls().unique().to_list())
            tally = _orphan_tally(contract, frame, failures, source_file)
            if tally is not None:
                orphans.append(tally)
            numbered = frame.with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
            numbered = numbered.join(_quarantine_rules(failures), on="_i", how="left", maintain_order="left")
            held = pl.col("RULES").is_not_null()
            valid = numbered.filter(~held).select(*contract.column_names, *lineage)
            valid_sink.write(valid)
            quarantine_sink.write(_quarantine_rows(ref, contract, source_file, header, numbered.filter(held)))
            sent += frame.height
            if contract.domain == "DM":
                subjects.update(valid.get_column("USUBJID").drop_nulls().unique().to_list())
                dm_rejects.append(
                    found.filter((pl.col("SEVERITY") == R.REJECT) & pl.col("USUBJID").is_not_null()).select(
                        "USUBJID", "SOURCE_LINE", "MESSAGE"
                    )
                )
    finally:
        valid_sink.close()
        quarantine_sink.close()
    if extras:
        findings.write(findings_frame([_extra_columns_finding(ref, contract, extras, source_file)]))
    if sent != parsed.records or valid_sink.rows + quarantine_sink.rows != sent:
        raise ReconciliationError(
            f"{source_file}: {parsed.records} records parsed, {sent} read back, "
            f"{valid_sink.rows} loaded + {quarantine_sink.rows} quarantined"
        )
    output = DomainOutput(
        domain=contract.domain,
        file_name=contract.file_name,
        source_file=source_file,
        valid_path=valid_sink.path,
        quarantine_path=quarantine_sink.path,
        rows_sent=sent,
        rows_loaded=valid_sink.rows,
        rows_quarantined=quarantine_sink.rows,
        contract_version=contract.version,
    )
    return FileResult(
        output,
        frozenset(subjects),
        pl.concat(dm_rejects) if dm_rejects else None,
        pl.concat(orphans) if orphans else None,
        frozenset(looked_up),
    )


# --- orphans: one root-cause finding per subject ------------------------------------------


def _lines_text(lines: list[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]} was"
    return f"lines {', '.join(map(str, lines[:-1]))} and {lines[-1]} were"


def orphan_findings(ref: TransferRef, tallies: list[pl.DataFrame], dm_rejects: pl.DataFrame | None, dm_file: str):
    """One finding per subject whose rows the orphan rule held back (or flagged).

    Identity: study + site + DM + USUBJID + rule, stable across cumulative
    transfers. It points at the subject's quarantined DM row when there is one
    (and says why it was quarantined), else at the subject's first child row.
    One finding per subject, not per row: the rows are in audit.quarantine
    (RULES ``orphan``), and the data manager has one thing to fix.
    """
    if not tallies:
        return findings_frame([])
    order = {d: i for i, d in enumerate(ALL_DOMAINS)}
    tally = (
        pl.concat(tallies)
        .group_by("USUBJID", "DOMAIN", "SOURCE_FILE", "SEVERITY")
        .agg(pl.col("ROWS").sum(), pl.col("FIRST_LINE").min())
        .sort(pl.col("DOMAIN").replace_strict(order, default=len(order)), "USUBJID")
    )
    why: dict[str, tuple[list[int], list[str]]] = {}
    if dm_rejects is not None and dm_rejects.height:
        for usubjid, lines, messages in (
            dm_rejects.sort("SOURCE_LINE")
            .group_by("USUBJID", maintain_order=True)
            .agg(pl.col("SOURCE_LINE").unique(maintain_order=True), pl.col("MESSAGE").unique(maintain_order=True))
            .iter_rows()
        ):
            why[usubjid] = (lines, messages)
    rows = []
    for (usubjid,), subject in tally.group_by("USUBJID", maintain_order=True):
        held = subject.filter(pl.col("SEVERITY") == R.REJECT)
        counted = held if held.height else subject
        total = counted.get_column("ROWS").sum()
        per_domain = ", ".join(
            f"{d} {n}" for d, n in counted.group_by("DOMAIN", maintain_order=True).agg(pl.col("ROWS").sum()).iter_rows()
        )
        outcome = "held back" if held.height else "loaded with a warning"
        first = subject.row(0, named=True)
        if usubjid in why:
            lines, messages = why[usubjid]
            cause = f"has no accepted DM row (DM {_lines_text(lines)} quarantined: {'; '.join(messages)})"
            source_file, source_line = dm_file, lines[0]
        else:
            cause = "has no DM row in this transfer"
            source_file, source_line = first["SOURCE_FILE"], first["FIRST_LINE"]
        rows.append(
            {
                "FINDING_ID": row_finding_id(ref.study, ref.site, "DM", usubjid, "USUBJID", ORPHAN_SUBJECT),
                "STUDYID": ref.study,
                "SITEID": ref.site,
                "TRANSFER_ID": ref.transfer_id,
                "DOMAIN": "DM",
                "USUBJID": usubjid,
                "RECORD_KEY": usubjid,
                "SOURCE_FILE": source_file,
                "SOURCE_LINE": source_line,
                "COLUMN_NAME": "USUBJID",
                "VALUE": usubjid,
                "RULE": ORPHAN_SUBJECT,
                "SEVERITY": R.REJECT if held.height else R.WARNING,
                "MESSAGE": f"subject {usubjid} {cause}; {total} row{'s' if total != 1 else ''} {outcome}: {per_domain}",
                "CATEGORY": ROW,
            }
        )
    return findings_frame(rows)


# --- the transfer ---------------------------------------------------------------------------


def _parsed_file(ref: TransferRef, info: FileInfo, out_dir: Path) -> ParsedFile:
    """The file's records as the transfer check parsed them, or parsed now (a check
    made elsewhere, or whose temporary files are gone), when the file is still what
    the check saw."""
    parsed = info.parsed
    if isinstance(parsed, ParsedFile) and parsed.path.exists():
        return parsed
    scan = scan_file(ref.path / info.name, out_dir / f"{info.domain}.parsed.arrow")
    if scan.problems or (scan.sha256, scan.records, scan.header) != (info.sha256, info.records, info.header):
        raise ReconciliationError(f"{ref.source_file(info.name)} changed since its transfer check")
    return scan.parsed


def _validate_parsed(ref, info: FileInfo, contract, ctx, out_dir: Path, sink, same_files) -> FileResult:
    """validate_file on the file's parsed records (kept for ``same_files`` when given)."""
    parsed = _parsed_file(ref, info, out_dir)
    if parsed.records != info.records:
        raise ReconciliationError(
            f"{ref.source_file(info.name)}: parsed {parsed.records} records, the transfer check counted {info.records}"
        )
    findings = same_files.recorder(sink) if same_files else sink
    result = validate_file(ref, contract, parsed, ctx, out_dir, findings)
    if parsed is not info.parsed:  # read again here: ours to remove
        parsed.path.unlink(missing_ok=True)
    if same_files:
        same_files.keep(ref, info, contract, ctx, result, findings)
    return result


def validate_transfer(
    ref: TransferRef, check: TransferCheck, study, contracts: dict, work_dir: Path, same_files=None
) -> ValidatedTransfer:
    """Validate every file of an accepted transfer, DM first (orphans need its subjects).

    Output goes to ``work_dir/<study>/<site>/<transfer_id>/``. The findings Parquet
    holds the transfer check's findings (warnings only, as the transfer was
    accepted), then each file's row findings, then one ``orphan_subject`` finding
    per subject whose rows were held back for want of an accepted DM row.

    ``same_files``: the ingest's trialdw.ingest.same_files.ValidatedFiles: a file
    the site sent before byte for byte, validated earlier in the same ingest in
    the same context, gets that outcome again instead of being read.
    """
    if not check.accepted:
        raise ValueError(f"{ref.relpath} is {check.status}; only accepted transfers are validated")
    out_dir = Path(work_dir) / ref.study / ref.site / ref.transfer_id
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {info.domain: info for info in check.files if info.domain and info.status == "ok"}
    order = sorted(files, key=lambda d: (d != "DM", ALL_DOMAINS.index(d)))
    outputs, tallies = [], []
    dm_subjects: frozenset[str] = frozenset()
    dm_rejects = None
    findings_path = out_dir / "findings.parquet"
    sink = _ParquetSink(findings_path, FINDING_SCHEMA)
    try:
        sink.write(findings_frame(check.findings))
        for domain in order:
            info, contract = files[domain], contracts[domain]
            ctx = R.RuleContext(study=study, site=ref.site, dm_subjects=dm_subjects)
            result = same_files.reuse(ref, info, contract, ctx, out_dir, sink) if same_files else None
            if result is None:
                result = _validate_parsed(ref, info, contract, ctx, out_dir, sink, same_files)
            if domain == "DM":
                dm_subjects, dm_rejects = result.subjects, result.dm_rejects
            if result.orphans is not None:
                tallies.append(result.orphans)
            outputs.append(result.output)
        sink.write(orphan_findings(ref, tallies, dm_rejects, ref.source_file("DM.csv")))
    finally:
        sink.close()
    return ValidatedTransfer(ref=ref, check=check, domains=tuple(outputs), findings_path=findings_path)
