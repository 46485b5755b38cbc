"""Reading a site CSV file exactly: the byte pass and the reference parser.

Two things live here:

- ``scan_bytes``: one streaming pass over a file's bytes (sha256, NUL bytes, UTF-8
  validity, lone carriage returns, commas, a BOM), handing every chunk to an
  observer (``csvnative.RecordStructure`` finds the record boundaries in the same
  pass). It never decodes more than a chunk and never builds a Python object per
  record: it is the cheap half of the native read (csvnative.py).
- ``iter_records`` / ``scan_csv``: the *exact* reader, Python's ``csv`` (RFC 4180
  quoting), record by record. Its findings and messages are the contract
  (tests/test_bad_input_corpus.py); the native read falls back to it for any file
  that is not plainly well-formed, so a rejected file always gets these messages.

Blank lines are not records (they are skipped, as every CSV reader does) but
they still count as physical lines for SOURCE_LINE.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CHUNK = 1 << 20
SCAN_CHUNK = 4 << 20  # the byte pass: big enough for memchr-speed counting, small enough to stay bounded
BOM = b"\xef\xbb\xbf"
COMMA = ord(",")
OTHER_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}


class CsvProblem(Exception):
    """A file-level defect that rejects the transfer; ``rule`` names it."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


class _HashingRaw(io.RawIOBase):
    """Raw reader that hashes every byte it hands on."""

    def __init__(self, fd: int):
        self._file = os.fdopen(fd, "rb", buffering=0)
        self.digest = hashlib.sha256()
        self.saw_nul = False  # Python >= 3.11's csv reader accepts NUL silently; we do not

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._file.readinto(buffer)
        if n:
            chunk = memoryview(buffer)[:n]
            self.digest.update(chunk)
            if not self.saw_nul and b"\x00" in chunk.tobytes():
                self.saw_nul = True
        return n or 0

    def drain(self) -> None:
        while chunk := self._file.read(CHUNK):
            self.digest.update(chunk)

    def close(self) -> None:
        # The io wrappers close their raw stream when garbage-collected; hashing
        # must be able to drain the rest afterwards, so only release() closes.
        pass

    def release(self) -> None:
        self._file.close()


def open_no_follow(path: Path) -> int:
    """Open for reading, refusing symbolic links (never read outside the transfer)."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with os.fdopen(open_no_follow(path), "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class CsvScan:
    sha256: str
    header: tuple[str, ...] | None = None
    records: int = 0
    problems: list[CsvProblem] = field(default_factory=list)
    parsed: object | None = None  # csvnative.ParsedFile: the records, parsed once, for row validation


@dataclass(frozen=True)
class ByteFacts:
    """What one pass over a file's bytes tells without parsing it."""

    sha256: str
    size: int
    bom: bool  # starts with a UTF-8 BOM (utf-8-sig drops it; so must every other reader)
    nul: bool  # Python >= 3.11's csv accepts NUL silently; the warehouse does not
    utf8: bool  # decodes as UTF-8 with Python's own (strict) codec
    lone_cr: bool  # a CR not followed by LF: Python's csv ends a line there, DuckDB refuses mixed endings
    commas: int  # every comma byte, quoted or not


def scan_bytes(fd: int, observe: Callable[[bytes, int], None] | None = None) -> ByteFacts:
    """Read an open file once, in chunks, and return its ByteFacts.

    ``observe(chunk, offset)`` sees every chunk after the BOM (``offset`` = the
    chunk's position in the file). Nothing is kept beyond one chunk: a file of
    any size costs the same memory. Text is only decoded when a chunk is not pure
    ASCII (``bytes.isascii`` runs at memory speed), with an incremental decoder so
    a multi-byte character split between chunks is still judged correctly.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = commas = 0
    bom = nul = lone_cr = cr_pending = utf8_pending = False
    utf8 = True
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, max(SCAN_CHUNK, len(BOM))):  # the first chunk holds a whole BOM
        offset = size
        size += len(chunk)
        digest.update(chunk)
        nul = nul or b"\x00" in chunk
        commas += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == COMMA))
        if utf8 and (utf8_pending or not chunk.isascii()):
            try:
                decoder.decode(chunk)
                utf8_pending = decoder.getstate()[0] != b""
            except UnicodeDecodeError:
                utf8 = False
        if cr_pending and not chunk.startswith(b"\n"):
            lone_cr = True
        crs = chunk.count(b"\r") if b"\r" in chunk else 0
        if crs:
            ends_cr = chunk.endswith(b"\r")
            lone_cr = lone_cr or crs - chunk.count(b"\r\n") - ends_cr > 0
            cr_pending = ends_cr
        else:
            cr_pending = False
        if offset == 0 and chunk.startswith(BOM):
            bom, chunk, offset = True, chunk[len(BOM) :], len(BOM)
        if observe is not None and chunk:
            observe(chunk, offset)
    if utf8 and utf8_pending:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return ByteFacts(digest.hexdigest(), size, bom, nul, utf8, lone_cr or cr_pending, commas)


def iter_records(path: Path, raw: _HashingRaw | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield (start line, fields) for every record, header included (line 1).

    Raises CsvProblem for: not UTF-8, empty file, unterminated quote at the end
    (truncated), other CSV syntax errors, NUL bytes.
    """
    own = raw is None
    raw = raw or _HashingRaw(open_no_follow(path))
    text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    previous_line = 0
    seen_any = False
    try:
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except UnicodeDecodeError as exc:
                raise CsvProblem("encoding", _encoding_message(path, exc)) from None
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise CsvProblem(
                        "truncated",
                        f"{path.name} is truncated: the quoted field opened on line "
                        f"{previous_line + 1} is never closed",
                    ) from None
                raise CsvProblem("csv_syntax", f"{path.name} line {reader.line_num}: {exc}") from None
            start = previous_line + 1
            previous_line = reader.line_num
            if not fields:  # blank line
                continue
            seen_any = True
            yield start, fields
    finally:
        if own:
            raw.release()
    if not seen_any:
        raise CsvProblem("empty_file", f"{path.name} is empty (no header row)")
    if raw.saw_nul:
        raise CsvProblem("csv_syntax", _nul_message(path))


def _encoding_message(path: Path, exc: UnicodeDecodeError) -> str:
    """Locate the first undecodable byte by physical line (a second, rare pass:
    decoding happens in chunks, so the csv reader cannot say where it was)."""
    with os.fdopen(open_no_follow(path), "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                byte = line[err.start]
                return (
                    f"{path.name} is not UTF-8: byte 0x{byte:02X} on line {number} cannot be "
                    f"decoded (Windows-1252/Latin-1?); the site must export UTF-8"
                )
    return f"{path.name} is not UTF-8 ({exc.reason}); the site must export UTF-8"


def _nul_message(path: Path) -> str:
    """A NUL byte means a binary or corrupted export; name its physical line."""
    with os.fdopen(open_no_follow(path), "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if b"\x00" in line:
                return f"{path.name} line {number} contains a NUL byte (a binary or corrupted export)"
    return f"{path.name} contains a NUL byte (a binary or corrupted export)"


def scan_csv(path: Path) -> CsvScan:
    """Hash and structurally check one CSV file in one streaming pass.

    Every record must have as many fields as the header: a short *last* record is
    a truncated file; any other width difference means broken quoting or
    separators. Both reject the file (the first such record is reported).
    """
    raw = _HashingRaw(open_no_follow(path))
    scan = CsvScan(sha256="")
    first_bad: tuple[int, int] | None = None  # (line, fields) of the first wrong-width record
    last: tuple[int, int] | None = None  # (line, fields) of the last record
    try:
        for line, fields in iter_records(path, raw):
            if scan.header is None:
                scan.header = tuple(fields)
                continue
            scan.records += 1
            last = (line, len(fields))
            if len(fields) != len(scan.header) and first_bad is None:
                first_bad = last
    except CsvProblem as problem:
        scan.problems.append(problem)
    finally:
        try:
            raw.drain()
            scan.sha256 = raw.digest.hexdigest()
        finally:  # an I/O error while reading must not leak the descriptor
            raw.release()
    if first_bad is not None:
        width = len(scan.header)
        line, count = first_bad
        if first_bad == last and count < width:
            scan.problems.append(
                CsvProblem(
                    "truncated",
                    f"{path.name} is truncated: the last record (line {line}) has "
                    f"{count} fields, the header has {width}",
                )
            )
        else:
            scan.problems.append(
                CsvProblem("field_count", f"{path.name} line {line} has {count} fields, the header has {width}")
            )
    if scan.header is not None and not scan.problems:
        separator = _other_separator(scan.header)
        if separator:
            scan.problems.append(
                CsvProblem("separator", f"{path.name} uses {separator} as separator; the format is comma-separated")
            )
    return scan


def _other_separator(header: tuple[str, ...]) -> str | None:
    if len(header) != 1:
        return None
    for char, name in OTHER_SEPARATORS.items():
        if char in header[0]:
            return name
    return None
