"""Native-speed reading of a site CSV file: one byte pass, one DuckDB parse, exact
results (or the exact reader when in doubt).

Why: reading every file record by record with Python's ``csv`` (csvfile.py) costs
a Python object per field and was done twice (transfer check, then validation).
Here a file is read in bounded memory, at C speed, and parsed once:

1. **Byte pass** (``csvfile.scan_bytes`` + ``RecordStructure``): sha256, NUL bytes,
   UTF-8 validity, lone CRs, and the record structure found with numpy on the
   positions of ``"`` and LF only: outside quotes (an even number of ``"`` before
   it) an LF ends a record; a record that is empty or only ``\\r`` is a blank line.
   That gives the record count, the commas outside quotes, the header's place,
   and the physical line where every record starts (SOURCE_LINE), stored as the
   few points where "line = ordinal + 2" stops holding (``LineMap``).
2. **One DuckDB parse** (``read_csv`` strict, no sniffing, every column VARCHAR)
   streamed as Arrow record batches into an Arrow IPC file (``ParsedFile``), with
   ``_line`` from the LineMap (string views: polars reads them without a copy).
   Row validation reads it back batch by batch; the file is never in memory as a
   whole.
3. **Exact fallback**: DuckDB's parse is trusted only when both readings agree
   and the file is plainly well-formed (the conditions in ``_why_not_native`` and
   ``_native``).
   Anything else (NUL, not UTF-8, a lone CR, a ``"`` that is not where RFC 4180
   puts one, a blank line before the header, a one-column header, a record of
   more than 128 KiB, record or comma counts that do not reconcile, DuckDB
   raising, the file changing under us) sends that one file to the exact Python
   reader (``csvfile.scan_csv``/``iter_records``): a rejected file always gets
   exactly the findings and messages of the exact reader, and an accepted but
   unusual file is still read exactly. tests/test_csv_native.py proves the two
   paths agree on generated tricky files.

Why the quote rule makes the parity argument exact: Python's ``csv`` (strict)
toggles "inside quotes" at every ``"`` of a quoted field (opening, each half of a
doubled ``""``, closing) and treats a ``"`` inside an unquoted field as a plain
character. If every ``"`` that would *open* (even count before it) follows a
comma, an LF, another ``"`` or the start of data, and every ``"`` that would
*close* is followed by a comma, CR, LF, ``"`` or the end, no ``"`` is a plain
character, so the parity of the ``"`` count is exactly the reader's state.
DuckDB (strict) refuses a record with fewer fields than the header but silently
drops extra *empty* trailing fields (``1,2,3,`` for three columns); the comma
count closes that gap: every record DuckDB accepts has at least width - 1
unquoted commas, so "unquoted commas = (width - 1) x records" means every record
has exactly the header's width.
"""

from __future__ import annotations

import atexit
import csv
import io
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trialdw.ingest.csvfile import ByteFacts, CsvScan, iter_records, open_no_follow, scan_bytes, scan_csv

BATCH = 250_000  # records per validation batch: bounded memory, still large enough for vectorised checks
EXACT_BATCH = 50_000  # the exact reader holds a Python string per field: smaller batches
LINE = "_line"  # SOURCE_LINE column of a parsed file
# Python's csv refuses a field longer than this; DuckDB is told to refuse a longer
# record, so any file that could hit the limit goes to the exact reader.
FIELD_LIMIT = csv.field_size_limit()
QUOTE, COMMA, LF, CR = ord('"'), ord(","), ord("\n"), ord("\r")
DUCKDB_MEMORY = "2GB"  # the parse streams; the duplicate-key pass spills to disk beyond this
DUCKDB_BUFFER: int | None = None  # read_csv buffer_size (None: DuckDB's); tests shrink it to cross buffers

_duckdb: tuple[int, object] | None = None  # (pid, connection)
_duckdb_lock = threading.Lock()


def duckdb_cursor():
    """A cursor on the process's in-memory DuckDB (a connection costs ~50 ms, a cursor
    ~10 µs; one cursor per thread and use). A forked child makes its own."""
    global _duckdb
    with _duckdb_lock:
        if _duckdb is None or _duckdb[0] != os.getpid():
            import tempfile

            import duckdb

            spill = Path(tempfile.gettempdir()) / f"trialdw-duckdb-{os.getpid()}"
            config = {"memory_limit": DUCKDB_MEMORY, "temp_directory": str(spill)}
            _duckdb = (os.getpid(), duckdb.connect(config=config))
            atexit.register(_close_duckdb)
        return _duckdb[1].cursor()


def _close_duckdb() -> None:
    """Close the process's DuckDB before the interpreter tears down: a connection
    still open then makes DuckDB's bindings report "leaked" objects on stderr."""
    global _duckdb
    with _duckdb_lock:
        if _duckdb is not None and _duckdb[0] == os.getpid():
            _duckdb[1].close()
        _duckdb = None


# --- line mapping ---------------------------------------------------------------------


@dataclass(frozen=True)
class LineMap:
    """SOURCE_LINE of a data record from its ordinal (0 = the first record after the header).

    ``line = ordinal + 2 + extra``, where ``extra`` (the physical lines so far that
    are not one-per-record: quoted line breaks, blank lines) only changes at the
    ordinals in ``at``. A file without either has ``at == [0]``, ``extra == [0]``.
    """

    at: np.ndarray
    extra: np.ndarray

    @classmethod
    def plain(cls) -> LineMap:
        return cls(np.zeros(1, np.int64), np.zeros(1, np.int64))

    def lines(self, start: int, count: int) -> np.ndarray:
        ordinals = np.arange(start, start + count, dtype=np.int64)
        return ordinals + 2 + self.extra[np.searchsorted(self.at, ordinals, side="right") - 1]


class RecordStructure:
    """Record boundaries, blank lines, quoted commas and start lines, chunk by chunk.

    Fed by ``scan_bytes`` with global byte offsets; works with numpy on the positions
    of ``"`` and LF in a chunk (and of commas where quotes are involved), never per
    record in Python. State carried between chunks: the quote parity, the last
    record boundary and its line, the last byte, a closing quote at the very end.
    ``problem`` is set at the first thing that is not plainly well-formed; the
    file then goes to the exact reader, so nothing here has to produce messages.
    """

    def __init__(self) -> None:
        self.quotes = 0  # '"' seen so far: odd = inside a quoted field
        self.newlines = 0  # LF seen so far
        self.boundary = None  # position of the LF that ended the last record (None: start of data)
        self.boundary_line = 0  # the physical line that LF ends (0 = before the first line)
        self.records = 0  # non-blank records so far, header included
        self.quoted_commas = 0
        self.header_span: tuple[int, int] | None = None  # byte range of the header line
        self.problem: str | None = None
        self._start: int | None = None  # first byte of data (after a BOM), set by the first chunk
        self._prev = LF  # last byte before the current chunk (the start of data counts as a line start)
        self._closer_pending = False  # previous chunk ended with a closing quote
        self._offset = 0  # current ``extra`` (see LineMap)
        self._at: list[np.ndarray] = []
        self._extra: list[np.ndarray] = []

    # -- feeding ---------------------------------------------------------------------

    def feed(self, chunk: bytes, base: int) -> None:
        """One chunk of the file; ``base`` is its position in the file."""
        if self.problem:
            return
        if self._start is None:
            self._start = base  # 3 after a BOM
        if self._closer_pending and chunk[0] not in (COMMA, LF, CR, QUOTE):
            return self._fail("text after a closing quote")
        self._closer_pending = False
        self._feed_numpy(chunk, base)
        self._prev = chunk[-1]

    def _fail(self, why: str) -> None:
        self.problem = self.problem or why

    def _last_boundary(self) -> int:
        return (self._start or 0) - 1 if self.boundary is None else self.boundary

    def _feed_numpy(self, chunk: bytes, base: int) -> None:
        data = np.frombuffer(chunk, dtype=np.uint8)
        quotes = np.flatnonzero(data == QUOTE)
        if quotes.size and not self._quotes_in_place(data, quotes):
            return
        newlines = np.flatnonzero(data == LF)
        if newlines.size:
            outside = ((self.quotes + np.searchsorted(quotes, newlines)) & 1) == 0
            self._records(data, base, newlines[outside], self.newlines + 1 + np.flatnonzero(outside))
            self.newlines += newlines.size
        if quotes.size or self.quotes & 1:
            commas = np.flatnonzero(data == COMMA)
            self.quoted_commas += int((((self.quotes + np.searchsorted(quotes, commas)) & 1) == 1).sum())
        self.quotes += quotes.size

    def _quotes_in_place(self, data: np.ndarray, quotes: np.ndarray) -> bool:
        """Every '"' opens a field, closes it, or is half of a doubled '""' (module docstring)."""
        opens = ((self.quotes + np.arange(quotes.size)) & 1) == 0
        before = data[np.maximum(quotes - 1, 0)].astype(np.int16)
        before[quotes == 0] = self._prev
        if not np.isin(before[opens], (COMMA, LF, QUOTE)).all():
            self._fail("a quote inside an unquoted field")
            return False
        inner = quotes < data.size - 1
        after = data[np.minimum(quotes + 1, data.size - 1)]
        if not np.isin(after[~opens & inner], (COMMA, LF, CR, QUOTE)).all():
            self._fail("text after a closing quote")
            return False
        self._closer_pending = bool(not opens[-1] and not inner[-1])
        return True

    def _records(self, data: np.ndarray, base: int, ends: np.ndarray, end_lines: np.ndarray) -> None:
        """Account for the records that end at the LFs ``ends`` (chunk positions), which
        end physical lines ``end_lines``."""
        if not ends.size:
            return
        previous = np.concatenate(([self._last_boundary() - base], ends[:-1]))
        length = ends - previous - 1
        before = data[np.maximum(ends - 1, 0)].astype(np.int16)
        before[ends == 0] = self._prev
        blank = (length == 0) | ((length == 1) & (before == CR))
        starts = np.concatenate(([self.boundary_line], end_lines[:-1])) + 1
        kept, kept_ends = starts[~blank], end_lines[~blank]
        self.boundary, self.boundary_line = base + int(ends[-1]), int(end_lines[-1])
        self._add_records(kept, kept_ends, first_end=lambda: base + int(ends[~blank][0]))

    def _add_records(self, starts: np.ndarray, end_lines: np.ndarray, first_end) -> None:
        if not starts.size:
            return
        ordinals = self.records - 1 + np.arange(starts.size)
        if self.records == 0:  # the first record is the header: one line, line 1
            if starts[0] != 1 or end_lines[0] != 1:
                return self._fail("the header is not exactly line 1")
            self.header_span = (self._start, first_end())
            starts, ordinals = starts[1:], ordinals[1:]
        self.records += starts.size + (self.records == 0)
        if starts.size:
            self._changes(ordinals, starts - ordinals - 2)

    def _changes(self, ordinals: np.ndarray, extra: np.ndarray) -> None:
        changed = np.flatnonzero(np.diff(extra, prepend=self._offset))
        if changed.size:
            self._at.append(ordinals[changed].astype(np.int64))
            self._extra.append(extra[changed].astype(np.int64))
            self._offset = int(extra[-1])

    # -- the end ---------------------------------------------------------------------

    def finish(self, size: int) -> None:
        """Account for a last record without a final LF, and close the books."""
        if self.problem:
            return
        if self._start is None:  # nothing after a BOM, or nothing at all
            return self._fail("no header")
        if self.quotes & 1:
            return self._fail("a quoted field is never closed")
        tail = size - self._last_boundary() - 1
        if tail > 0 and not (tail == 1 and self._prev == CR):
            start = self.boundary_line + 1
            one_line = self.newlines == self.boundary_line
            # A header that is the whole file has no LF: its span ends at the end of the file.
            self._add_records(np.array([start]), np.array([start if one_line else 0]), first_end=lambda: size)
        if self.records == 0 and not self.problem:
            self._fail("no header")

    def line_map(self) -> LineMap:
        if not self._at:
            return LineMap.plain()
        return LineMap(np.concatenate([[0], *self._at]), np.concatenate([[0], *self._extra]))


# --- the parsed file ---------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedFile:
    """The records of one file, parsed once, as an Arrow IPC file on local disk.

    Columns ``c0`` … ``c<n-1>`` (the header's columns by position, all strings,
    NULL = empty field) and ``_line`` (SOURCE_LINE). ``parser`` says who parsed it:
    ``duckdb`` or ``python`` (the exact reader; ``reason`` says why).
    """

    path: Path
    header: tuple[str, ...]
    records: int
    parser: str
    reason: str | None = None

    def batches(self, columns: list[str] | None = None) -> Iterator:
        """polars DataFrames of about BATCH records (DuckDB writes smaller Arrow
        batches; consecutive ones are served together), in file order, columns named
        by the header (or only ``columns``), with ``_line``.

        Read with plain reads, not memory-mapped: a mapped file's pages would count
        as the process's memory until the whole file is done."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        wanted = None if columns is None else [self.column_of(c) for c in columns] + [LINE]
        with pa.OSFile(str(self.path)) as source:
            reader = ipc.open_file(source)
            pending, rows = [], 0
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                pending.append(batch if wanted is None else batch.select(wanted))
                rows += batch.num_rows
                if rows >= BATCH:
                    yield self._frame(pending)
                    pending, rows = [], 0
            if pending:
                yield self._frame(pending)

    def _frame(self, batches: list):
        import polars as pl
        import pyarrow as pa

        names = {f"c{i}": name for i, name in enumerate(self.header)}
        return pl.from_arrow(pa.Table.from_batches(batches)).rename(lambda c: names.get(c, c))

    def column_of(self, name: str) -> str:
        return f"c{self.header.index(name)}"


def _schema(width: int):
    import pyarrow as pa

    # String views: polars's own string layout, so reading a batch back costs no copy.
    return pa.schema([*(pa.field(f"c{i}", pa.string_view()) for i in range(width)), pa.field(LINE, pa.int64())])


def _duckdb_parse(fd: int, width: int, lines: LineMap, out: Path) -> int:
    """Parse with DuckDB straight into ``out`` (Arrow IPC); returns the record count.

    The file is read through ``/proc/self/fd/<fd>`` where there is one, so DuckDB
    reads the very file that was opened without following symbolic links and
    hashed, even if the name changes meanwhile.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    source = f"/proc/self/fd/{fd}" if os.path.exists(f"/proc/self/fd/{fd}") else None
    if source is None:
        raise OSError("no /proc/self/fd: the native parser cannot prove it reads the checked file")
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    query = (
        "SELECT * FROM read_csv(?, header = true, all_varchar = true, delim = ',', quote = '\"', "
        "escape = '\"', strict_mode = true, auto_detect = false, null_padding = false, "
        f"compression = 'none', max_line_size = {FIELD_LIMIT}, columns = {columns}"
        + (f", buffer_size = {DUCKDB_BUFFER})" if DUCKDB_BUFFER else ")")
    )
    schema = _schema(width)
    count = 0
    cursor = duckdb_cursor()
    try:
        cursor.execute("SET produce_arrow_string_view = true")
        reader = cursor.sql(query, params=[source]).to_arrow_reader(BATCH)
        with ipc.new_file(str(out), schema) as writer:
            for batch in reader:
                line = pa.array(lines.lines(count, batch.num_rows))
                writer.write_batch(pa.RecordBatch.from_arrays([*batch.columns, line], schema=schema))
                count += batch.num_rows
    finally:
        cursor.close()
    return count


def exact_parse(path: Path, out: Path, header: tuple[str, ...]) -> ParsedFile:
    """The exact reader's records into the same IPC layout (the fallback; a
    Python loop per record, acceptable for the rare file that needs it)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    width = len(header)
    schema = _schema(width)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    lines: list[int] = []
    count = 0

    def flush(writer) -> None:
        arrays = [pa.array(col, pa.string_view()) for col in columns] + [pa.array(lines, pa.int64())]
        writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        for col in columns:
            col.clear()
        lines.clear()

    with ipc.new_file(str(out), schema) as writer:
        records = iter_records(path)
        next(records)  # the header
        for line, fields in records:
            if len(fields) != width:  # scan_csv found every width right: the file changed since
                raise OSError(f"{path.name} changed while it was read (line {line})")
            for col, value in zip(columns, fields, strict=True):
                col.append(value or None)
            lines.append(line)
            count += 1
            if len(lines) >= EXACT_BATCH:
                flush(writer)
        flush(writer)
    return ParsedFile(out, header, count, "python")


# --- one file: native when possible, exact otherwise ------------------------------------


def _header(fd: int, span: tuple[int, int]) -> tuple[str, ...]:
    """The header, parsed by Python's csv from its single line (a CR before the LF is
    part of the line ending)."""
    start, end = span
    text = os.pread(fd, end - start, start).decode("utf-8").removesuffix("\r")
    return tuple(next(csv.reader(io.StringIO(text, newline=""), strict=True)))


def _why_not_native(facts: ByteFacts, structure: RecordStructure) -> str | None:
    if facts.size == 0:
        return "empty file"
    if facts.nul:
        return "NUL byte"
    if not facts.utf8:
        return "not UTF-8"
    if facts.lone_cr:
        return "a CR without LF"
    return structure.problem


def _native(fd: int, out: Path, skip_parse=None) -> tuple[CsvScan | None, str | None]:
    """The native reading of an open file: (CsvScan, None) when it can be trusted,
    else (None, the reason to read it exactly). ``skip_parse(sha256)`` true: the
    records are not parsed (``CsvScan.parsed`` None), the byte scan's facts only."""
    before = os.fstat(fd)
    structure = RecordStructure()
    facts = scan_bytes(fd, structure.feed)
    structure.finish(facts.size)
    reason = _why_not_native(facts, structure)
    if reason:
        return None, reason
    header = _header(fd, structure.header_span)
    width = len(header)
    if width < 2:  # maybe another separator: the exact reader words that finding
        return None, "a one-column header"
    if facts.commas - structure.quoted_commas != (width - 1) * structure.records:
        return None, "a record whose width differs from the header"
    records = structure.records - 1
    if skip_parse is not None and skip_parse(facts.sha256):
        after = os.fstat(fd)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or after.st_size != facts.size:
            return None, "the file changed while it was read"
        return CsvScan(sha256=facts.sha256, header=header, records=records, parsed=None), None
    try:
        count = _duckdb_parse(fd, width, structure.line_map(), out)
    except Exception as exc:  # any refusal by DuckDB: the exact reader words it
        out.unlink(missing_ok=True)
        return None, f"DuckDB: {str(exc).splitlines()[0]}"
    if count != records:
        out.unlink(missing_ok=True)
        return None, f"DuckDB read {count} records, the byte scan counted {records}"
    after = os.fstat(fd)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or after.st_size != facts.size:
        out.unlink(missing_ok=True)
        return None, "the file changed while it was read"
    parsed = ParsedFile(out, header, records, "duckdb")
    return CsvScan(sha256=facts.sha256, header=header, records=records, parsed=parsed), None


def scan_file(path: Path, out: Path, skip_parse=None) -> CsvScan:
    """The transfer check's reading of one CSV file, equal to ``csvfile.scan_csv``
    (sha256, header, record count, problems, with the same messages), and for a
    file without problems its records parsed into ``out`` (``CsvScan.parsed``),
    so row validation does not read the CSV again. Raises OSError when the file
    cannot be read.

    ``skip_parse(sha256)``: true for a plainly well-formed file whose records
    will not be needed (trialdw.ingest.same_files: the same bytes were validated
    already); its ``parsed`` is None, and validation parses it should it need to.
    """
    fd = open_no_follow(path)
    try:
        scan, reason = _native(fd, out, skip_parse)
    finally:
        os.close(fd)
    if scan is not None:
        return scan
    scan = scan_csv(path)
    if not scan.problems and scan.header:
        parsed = exact_parse(path, out, scan.header)
        if parsed.records != scan.records:  # the file changed between the two exact reads
            out.unlink(missing_ok=True)
            raise OSError(f"{path.name} changed while it was read ({scan.records} then {parsed.records} records)")
        scan.parsed = ParsedFile(parsed.path, parsed.header, parsed.records, "python", reason)
    return scan


def remove_parsed(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
