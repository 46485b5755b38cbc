"""Files a site sends again byte for byte, validated once per ingest.

Sites send cumulative exports, and a domain nobody touched since the last
export arrives again byte for byte (on the bench portfolio the single-cell
expression files: 3.5 M of its 9.5 M rows on the first night, each site's
second transfer repeating its first). Validating a file is a function of:
its bytes (SHA-256), the contract, the study's configuration, the site, and
which of the file's subjects DM accepted in the same transfer (the orphan
rule looks each row's subject up in DM's accepted subjects, so a subject
enrolled since, with no row in this file, changes nothing:
``FileResult.looked_up``). When all of these are what they were for the same
site's file of that domain validated earlier in the same ingest, the outcome
is that one, and is given again
(``ValidatedFiles.reuse``) without reading the file (the transfer check reads
its bytes, for its checksum and structure, but does not parse its records:
``validated``):

1. the valid rows are the same rows: the valid Parquet file (values, line,
   columns the contract does not know; rows.LINEAGE) is the earlier one;
2. the quarantined rows, the row findings and the orphan tally are the earlier
   ones with this transfer's TRANSFER_ID and SOURCE_FILE (finding ids name no
   transfer: trialdw.ingest.findings);
3. the counts, DM's accepted subjects and DM's rejects are the same.

Only within one ingest: its contracts and studies are the same objects
throughout (compared by identity), and so is the code. A file with more than
``MAX_KEPT_FINDINGS`` findings is not kept (it is validated again instead of
holding its findings in memory). One validation thread uses an instance.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl

from trialdw.ingest.rows import QUARANTINE_SCHEMA, FileResult, _ParquetSink

MAX_KEPT_FINDINGS = 100_000


@dataclasses.dataclass
class _Kept:
    key: tuple
    result: FileResult
    findings: list[pl.DataFrame]
    in_dm: frozenset[str]  # the file's looked-up subjects that DM had accepted then


class _Recorder:
    """A findings sink that keeps what one file wrote (up to a limit), for reuse."""

    def __init__(self, sink):
        self._sink = sink
        self.frames: list[pl.DataFrame] | None = []
        self._rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        self._sink.write(frame)
        if self.frames is not None:
            self._rows += frame.height
            if self._rows > MAX_KEPT_FINDINGS:
                self.frames = None
            else:
                self.frames.append(frame)


class ValidatedFiles:
    """The latest validated file of each study, site and domain in this ingest."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str, str], _Kept] = {}

    @staticmethod
    def _key(info, contract, ctx) -> tuple:
        return (info.sha256, id(contract), id(ctx.study), ctx.site)

    @staticmethod
    def _in_dm(result: FileResult, ctx) -> frozenset[str]:
        return result.looked_up & (ctx.dm_subjects or frozenset())

    def validated(self, study: str, site: str, domain: str, sha256: str) -> bool:
        """Were these bytes the site's file of ``domain`` validated last? (The transfer
        check then need not parse its records: trialdw.ingest.csvnative.scan_file.)"""
        kept = self._kept.get((study, site, domain))
        return kept is not None and kept.key[0] == sha256

    def recorder(self, sink) -> _Recorder:
        return _Recorder(sink)

    def keep(self, ref, info, contract, ctx, result: FileResult, recorder: _Recorder) -> None:
        """Remember ``result`` (and the findings ``recorder`` saw) for the site's next transfer."""
        where = (ref.study, ref.site, contract.domain)
        if info.sha256 is None or recorder.frames is None:
            self._kept.pop(where, None)
            return
        self._kept[where] = _Kept(self._key(info, contract, ctx), result, recorder.frames, self._in_dm(result, ctx))

    def reuse(self, ref, info, contract, ctx, out_dir: Path, findings) -> FileResult | None:
        """The outcome of the same file validated earlier (steps 1–3), its findings
        written to ``findings``; None when there is none to give again."""
        kept = self._kept.get((ref.study, ref.site, contract.domain))
        if kept is None or info.sha256 is None or kept.key != self._key(info, contract, ctx):
            return None
        if self._in_dm(kept.result, ctx) != kept.in_dm:  # a subject of the file joined or left DM
            return None
        source_file = ref.source_file(contract.file_name)
        this_transfer = [pl.lit(ref.transfer_id).alias("TRANSFER_ID"), pl.lit(source_file).alias("SOURCE_FILE")]
        before = kept.result.output
        quarantine = _ParquetSink(out_dir / f"{contract.domain}.quarantine.parquet", QUARANTINE_SCHEMA)
        try:
            quarantine.write(pl.read_parquet(before.quarantine_path).with_columns(this_transfer))
        finally:
            quarantine.close()
        for frame in kept.findings:
            findings.write(frame.with_columns(this_transfer))
        orphans = kept.result.orphans
        return FileResult(
            dataclasses.replace(before, source_file=source_file, quarantine_path=quarantine.path),
            kept.result.subjects,
            kept.result.dm_rejects,
            None if orphans is None else orphans.with_columns(pl.lit(source_file).alias("SOURCE_FILE")),
            kept.result.looked_up,
        )
