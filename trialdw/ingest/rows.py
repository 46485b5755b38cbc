"""Row validation of an accepted transfer: every data row ends up either valid
(Parquet for raw.<domain>) or quarantined (Parquet for audit.quarantine) with one
finding per (row, column, rule).

Files are read as text only (one parser, csvfile.iter_records, so SOURCE_LINE is
the physical line where a record starts even after embedded line breaks); every
type and format is a *check*, so one bad value never hides another. Rules come
from data_contracts/<DOMAIN>.yml through contracts.build_schema (pandera, polars
backend); pandera's failure cases give the row positions that map back to lines.

Choices where the spec is silent:
- The extra-columns warning is one finding per file with SOURCE_LINE 1 (the
  header, where the extra column is) and COLUMN_NAME the extra names.
- An empty field is NULL; a field of spaces only is kept as sent and gets a
  ``whitespace`` finding.
- A record key with an empty part cannot identify a record across transfers, so
  that finding's identity also uses the line (it may reappear under a new id).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trialdw.ingest import contracts as C
from trialdw.ingest import rules as R
from trialdw.ingest.csvfile import iter_records
from trialdw.ingest.findings import ROW, findings_frame, row_finding_id
from trialdw.ingest.types import DomainOutput, ReconciliationError, TransferCheck, TransferRef, ValidatedTransfer
from trialdw.project import ALL_DOMAINS

BATCH = 50_000
LINE = "_source_line"
LINEAGE = ("_studyid", "_siteid", "_transfer_id", "_source_file", "_source_line", "_extra")
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


def read_as_text(path: Path) -> tuple[tuple[str, ...], pl.DataFrame]:
    """Header and all data records as strings (as sent, "" kept), plus ``_source_line``.

    Read in batches so Python never holds more than BATCH records as objects.
    """
    header: tuple[str, ...] | None = None
    frames, rows, lines = [], [], []

    def flush():
        if rows:
            frame = pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")
            frames.append(frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64)))
            rows.clear()
            lines.clear()

    for line, fields in iter_records(path):
        if header is None:
            header = tuple(fields)
            continue
        rows.append(fields)
        lines.append(line)
        if len(rows) >= BATCH:
            flush()
    flush()
    schema = {**dict.fromkeys(header, pl.String), LINE: pl.Int64}
    return header, (pl.concat(frames) if frames else pl.DataFrame(schema=schema))


def _required_check(column: str) -> R.RowCheck:
    return R.RowCheck(
        "required", column, pl.col(column).is_not_null(), pl.format("{} is empty; a value is required", pl.lit(column))
    )


def _failures(schema, checks: dict, frame: pl.DataFrame) -> list[tuple[R.RowCheck, list[int]]]:
    """Run pandera lazily over the whole frame; (check, failing row positions) pairs."""
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
    grouped = cases.group_by(["check", "column"], maintain_order=True).agg(pl.col("index"))
    for name, column, index in grouped.iter_rows():
        if name == "not_nullable":
            check = _required_check(column)
        elif name in checks:
            check = checks[name]
        else:  # a failure we did not ask for (e.g. a check that raised): never swallow it
            raise RuntimeError(
                f"unexpected pandera failure {name!r} on column {column!r}: "
                f"{cases.filter(pl.col('check') == name).head(3)}"
            )
        if any(i is None for i in index):
            raise RuntimeError(f"pandera reported check {name!r} without row positions")
        result.append((check, sorted(set(index))))
    return result


def _key_text(key: tuple[str, ...]) -> pl.Expr:
    return pl.concat_str([pl.col(k).fill_null("") for k in key], separator="|")


def _row_findings(ref: TransferRef, contract, frame: pl.DataFrame, failures, source_file: str) -> pl.DataFrame:
    """One finding per (row, column, rule), with messages evaluated on failing rows."""
    pieces = []
    key_complete = pl.all_horizontal([pl.col(k).is_not_null() for k in contract.record_key])
    for check, index in failures:
        sub = frame[index]
        pieces.append(
            sub.select(
                pl.lit(contract.domain).alias("DOMAIN"),
                pl.col("USUBJID") if "USUBJID" in sub.columns else pl.lit(None, pl.String).alias("USUBJID"),
                _key_text(contract.record_key).alias("RECORD_KEY"),
                key_complete.alias("_key_complete"),
                pl.col(LINE).alias("SOURCE_LINE"),
                pl.lit(check.column).alias("COLUMN_NAME"),
                check.value_expr.cast(pl.String).alias("VALUE"),
                pl.lit(check.rule).alias("RULE"),
                pl.lit(check.severity).alias("SEVERITY"),
                check.message.cast(pl.String).alias("MESSAGE"),
            )
        )
    if not pieces:
        return findings_frame([])
    found = pl.concat(pieces)
    ids = [
        row_finding_id(ref.study, ref.site, contract.domain, key if complete else f"{key}@line{line}", column, rule)
        for key, complete, line, column, rule in found.select(
            "RECORD_KEY", "_key_complete", "SOURCE_LINE", "COLUMN_NAME", "RULE"
        ).iter_rows()
    ]
    found = found.with_columns(
        pl.Series("FINDING_ID", ids, dtype=pl.String),
        pl.lit(ref.study).alias("STUDYID"),
        pl.lit(ref.site).alias("SITEID"),
        pl.lit(ref.transfer_id).alias("TRANSFER_ID"),
        pl.lit(source_file).alias("SOURCE_FILE"),
        pl.lit(ROW).alias("CATEGORY"),
    )
    return found.select(findings_frame([]).columns).sort("SOURCE_LINE", "COLUMN_NAME", "RULE")


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


def validate_file(
    ref: TransferRef, contract, path: Path, ctx: R.RuleContext, out_dir: Path, expected_records: int | None
) -> tuple[DomainOutput, pl.DataFrame, frozenset[str]]:
    """Validate one domain file; write its valid and quarantine Parquet files.

    Returns the output record, the findings and the USUBJIDs of the valid rows.
    """
    source_file = ref.source_file(contract.file_name)
    header, sent = read_as_text(path)
    if expected_records is not None and sent.height != expected_records:
        raise ReconciliationError(
            f"{source_file}: read {sent.height} records, the transfer check counted {expected_records}"
        )
    extras = [c for c in header if c not in contract.column_names]
    frame = sent.with_columns([pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in header])
    frame = frame.with_columns([pl.lit(None, pl.String).alias(c) for c in contract.column_names if c not in header])

    schema, checks = C.build_schema(contract, ctx)
    failures = _failures(schema, checks, frame.select(*contract.column_names, LINE))
    findings = _row_findings(ref, contract, frame, failures, source_file)
    if extras:
        findings = pl.concat([findings, findings_frame([_extra_columns_finding(ref, contract, extras, source_file)])])

    rejected = sorted({i for check, index in failures if check.severity == R.REJECT for i in index})
    in_quarantine = pl.Series("_q", [False] * frame.height, dtype=pl.Boolean)
    if rejected:
        in_quarantine = in_quarantine.scatter(rejected, True)

    lineage = [
        pl.lit(ref.study).alias("_studyid"),
        pl.lit(ref.site).alias("_siteid"),
        pl.lit(ref.transfer_id).alias("_transfer_id"),
        pl.lit(source_file).alias("_source_file"),
        pl.col(LINE).alias("_source_line"),
        (pl.struct(extras).struct.json_encode() if extras else pl.lit(None, pl.String)).alias("_extra"),
    ]
    valid = frame.filter(~in_quarantine).select(*contract.column_names, *lineage)

    rules_by_line = (
        findings.filter(pl.col("SEVERITY") == R.REJECT)
        .group_by("SOURCE_LINE")
        .agg(pl.col("RULE").unique().sort().str.join(",").alias("RULES"))
    )
    quarantined = (
        sent.filter(in_quarantine)
        .with_columns(pl.struct(list(header)).struct.json_encode().alias("RECORD"))
        .join(rules_by_line, left_on=LINE, right_on="SOURCE_LINE", how="left")
        .select(
            pl.lit(ref.study).alias("STUDYID"),
            pl.lit(ref.site).alias("SITEID"),
            pl.lit(ref.transfer_id).alias("TRANSFER_ID"),
            pl.lit(contract.domain).alias("DOMAIN"),
            pl.lit(source_file).alias("SOURCE_FILE"),
            pl.col(LINE).alias("SOURCE_LINE"),
            (pl.col("USUBJID") if "USUBJID" in header else pl.lit(None, pl.String)).alias("USUBJID"),
            pl.col("RULES"),
            pl.col("RECORD"),
        )
    )
    if valid.height + quarantined.height != sent.height:
        raise ReconciliationError(
            f"{source_file}: loaded {valid.height} + quarantined {quarantined.height} != sent {sent.height}"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    valid_path = out_dir / f"{contract.domain}.valid.parquet"
    quarantine_path = out_dir / f"{contract.domain}.quarantine.parquet"
    valid.write_parquet(valid_path)
    quarantined.write_parquet(quarantine_path)
    output = DomainOutput(
        domain=contract.domain,
        file_name=contract.file_name,
        source_file=source_file,
        valid_path=valid_path,
        quarantine_path=quarantine_path,
        rows_sent=sent.height,
        rows_loaded=valid.height,
        rows_quarantined=quarantined.height,
        contract_version=contract.version,
    )
    subjects = (
        frozenset(valid.get_column("USUBJID").drop_nulls().to_list()) if "USUBJID" in valid.columns else frozenset()
    )
    return output, findings, subjects


def validate_transfer(
    ref: TransferRef, check: TransferCheck, study, contracts: dict, work_dir: Path
) -> ValidatedTransfer:
    """Validate every file of an accepted transfer, DM first (orphans need its subjects).

    Output goes to ``work_dir/<study>/<site>/<transfer_id>/``. The findings Parquet
    holds the transfer check's findings (warnings only, as the transfer was
    accepted) followed by the row findings.
    """
    if not check.accepted:
        raise ValueError(f"{ref.relpath} is {check.status}; only accepted transfers are validated")
    out_dir = Path(work_dir) / ref.study / ref.site / ref.transfer_id
    files = {info.domain: info for info in check.files if info.domain and info.status == "ok"}
    order = sorted(files, key=lambda d: (d != "DM", ALL_DOMAINS.index(d)))
    outputs, all_findings = [], [findings_frame(check.findings)]
    dm_subjects: frozenset[str] = frozenset()
    for domain in order:
        info = files[domain]
        ctx = R.RuleContext(study=study, site=ref.site, dm_subjects=dm_subjects)
        output, findings, subjects = validate_file(
            ref, contracts[domain], ref.path / info.name, ctx, out_dir, info.records
        )
        if domain == "DM":
            dm_subjects = subjects
        outputs.append(output)
        all_findings.append(findings)
    findings_path = out_dir / "findings.parquet"
    out_dir.mkdir(parents=True, exist_ok=True)
    pl.concat(all_findings).write_parquet(findings_path)
    return ValidatedTransfer(ref=ref, check=check, domains=tuple(outputs), findings_path=findings_path)
