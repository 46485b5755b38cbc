"""The native reader (byte pass + one DuckDB parse, csvnative.py) against the exact
reader (Python's csv, csvfile.py): on thousands of generated tricky files they must
agree on accept/reject (with the same findings and messages), sha256, header,
record count, and every record's fields and SOURCE_LINE.

The generator is a small seeded one (hypothesis is not installed): quotes, doubled
quotes, embedded CR/LF/CRLF, blank lines, a BOM, a trailing newline or not, wrong
widths, trailing commas, unterminated quotes, NUL, stray quotes, text after a
closing quote, non-UTF-8 bytes. The byte pass is run with tiny chunks too, so
every chunk-boundary case (a CRLF, a doubled quote, a multi-byte character split
between chunks) is exercised, and DuckDB with small buffers so records cross its
buffer boundaries.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from trialdw.ingest import csvfile, csvnative
from trialdw.ingest.csvfile import iter_records, scan_csv
from trialdw.ingest.csvnative import scan_file

WORDS = ["a", "Nausea", "POSSIBLY RELATED", "2025-01-05", "12.5", "é", "≥ 3", "ALT â‰¥", "x y", "0", "-1", "🙂"]


def _quoted(rng: random.Random) -> str:
    """A field that needs quotes, correctly quoted."""
    inner = rng.choice(["a,b", 'say "hi"', "two\nlines", "crlf\r\nline", "x\n\ny", '""', "", " pad ", "c,\n,d"])
    return '"' + inner.replace('"', '""') + '"'


def _field(rng: random.Random, dirty: float) -> str:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(WORDS)
    if roll < 0.70:
        return ""
    if roll < 1 - dirty:
        return _quoted(rng)
    return rng.choice(
        [
            'ab"c',  # a quote inside an unquoted field: a plain character for Python's csv
            ' "abc"',  # space before a quote: DuckDB would drop the space and the quotes
            '"abc"d',  # text after a closing quote: Python (strict) refuses
            '"abc" ',
            '"a""',  # never closed
            "x\x00y",
            "lone\rcr",
            "\ufeffbom",
            "  ",
        ]
    )


def _record(rng: random.Random, width: int, dirty: float) -> str:
    roll = rng.random()
    if roll < dirty:
        width -= 1  # short
    elif roll < 2 * dirty:
        width += 1  # wide
    fields = [_field(rng, dirty) for _ in range(max(width, 1))]
    if rng.random() < dirty:
        fields.append("")  # a trailing comma: DuckDB drops an empty extra field, Python counts it
    return ",".join(fields)


def generate(rng: random.Random) -> bytes:
    """A CSV file; half of them use only what RFC 4180 allows (the native path's
    business), the other half mix in defects at a few percent per record."""
    dirty = rng.choice([0.0, 0.03])
    width = rng.choice([1, 2, 3, 3, 4, 6])
    newline = rng.choice(["\n", "\n", "\r\n"])
    header = ",".join(rng.choice([f"C{i}", f'"C{i}"', f"c{i}"]) for i in range(width))
    lines = [header] + [_record(rng, width, dirty) for _ in range(rng.randint(0, 12))]
    text = ""
    for i, line in enumerate(lines):
        if rng.random() < 0.06:
            text += (
                rng.choice(["\n", "\n", "\r\n", "\r"]) if i or rng.random() < 0.2 else ""
            )  # a blank line (before the header: rarely)
        text += line + (newline if i < len(lines) - 1 or rng.random() < 0.7 else "")
    if rng.random() < 0.05:
        text += rng.choice(["\n", "\r\n", "\n\n"])
    data = text.encode("utf-8")
    roll = rng.random()
    if roll < 0.08:
        data = b"\xef\xbb\xbf" + data
    elif roll < 0.08 + dirty and data:
        at = rng.randrange(len(data))
        data = data[:at] + rng.choice([b"\xe9", b"\xff", b"\xc3", b"\xed\xa0\x80"]) + data[at:]
    elif roll < 0.09 + dirty:
        data = data.replace(b"\n", b"\r")
    return data


def exact_reading(path: Path):
    scan = scan_csv(path)
    problems = [(p.rule, p.message) for p in scan.problems]
    rows = None
    if not scan.problems:
        rows = [(*(v or None for v in fields), line) for line, fields in list(iter_records(path))[1:]]
    return scan.sha256, scan.header, scan.records, problems, rows


def native_reading(path: Path, out: Path):
    scan = scan_file(path, out)
    problems = [(p.rule, p.message) for p in scan.problems]
    rows = None
    if scan.parsed is not None:
        rows = [row for batch in scan.parsed.batches() for row in batch.rows()]
    parser = scan.parsed.parser if scan.parsed is not None else None
    return (scan.sha256, scan.header, scan.records, problems, rows), parser


@pytest.mark.parametrize(
    "seed, chunk, buffer",
    [(1, None, None), (2, 7, None), (3, 64, None), (4, 3, None)],
    ids=["4MiB-chunks", "7-byte-chunks", "64-byte-chunks", "3-byte-chunks"],
)
def test_native_and_exact_readers_agree_on_generated_files(tmp_path, monkeypatch, seed, chunk, buffer):
    if chunk:
        monkeypatch.setattr(csvfile, "SCAN_CHUNK", chunk)
    rng = random.Random(seed)
    parsers = {"duckdb": 0, "python": 0, None: 0}
    for i in range(600):
        data = generate(rng)
        path = tmp_path / f"f{i}.csv"
        path.write_bytes(data)
        native, parser = native_reading(path, tmp_path / f"f{i}.arrow")
        assert native == exact_reading(path), data
        parsers[parser] += 1
    # The generator must exercise all three outcomes, the native path most.
    assert parsers["duckdb"] > 200 and parsers["python"] > 50 and parsers[None] > 80, parsers


def test_records_crossing_duckdb_buffers_and_byte_chunks(tmp_path, monkeypatch):
    """A few MB of multi-line quoted records, blank lines and CRLF endings read with
    DuckDB buffers of 256 KiB (parallel, many boundaries) and 1000-byte chunks."""
    monkeypatch.setattr(csvnative, "DUCKDB_BUFFER", 1 << 18)
    monkeypatch.setattr(csvfile, "SCAN_CHUNK", 1000)
    rng = random.Random(7)
    lines = ["ID,TEXT,N"]
    for i in range(40_000):
        text = rng.choice(["plain", '"two\nlines"', '"a ""quoted"" word"', '"x,\r\ny"', "", '"\n\n"'])
        lines.append(f"{i},{text},{rng.randint(0, 9)}")
        if rng.random() < 0.01:
            lines.append("")
    path = tmp_path / "big.csv"
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    native, parser = native_reading(path, tmp_path / "big.arrow")
    assert parser == "duckdb"
    assert native == exact_reading(path)


def test_a_field_longer_than_pythons_limit_is_left_to_the_exact_reader(tmp_path):
    path = tmp_path / "long.csv"
    path.write_bytes(b"A,B\n1," + b"x" * (csvnative.FIELD_LIMIT + 1) + b"\n2,y\n")
    native, parser = native_reading(path, tmp_path / "long.arrow")
    assert parser is None and native == exact_reading(path)
    assert native[3] == [("csv_syntax", "long.csv line 2: field larger than field limit (131072)")]


@pytest.mark.parametrize(
    "data, reason",
    [
        (b'A,B\n1,ab"c\n', "a quote inside an unquoted field"),
        (b'A,B\n1, "abc"\n', "a quote inside an unquoted field"),
        (b"A,B\n1,2\r3,4\n", "a CR without LF"),
        (b"\nA,B\n1,2\n", "the header is not exactly line 1"),
        (b"A,B\n1,2\n\r\n3,4\n", "DuckDB"),  # DuckDB refuses a CRLF blank line in an LF file
    ],
)
def test_unusual_but_valid_files_are_read_exactly(tmp_path, data, reason):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    scan = scan_file(path, tmp_path / "f.arrow")
    assert not scan.problems and scan.parsed.parser == "python"
    assert scan.parsed.reason.startswith(reason)
    native, _ = native_reading(path, tmp_path / "g.arrow")
    assert native == exact_reading(path)


@pytest.mark.parametrize(
    "data",
    [b"\xef\xbb\xbf", b"\n", b"\r\n\r\n", b"\n\n", b"A,B\n\n\n", b"A,B", b'"A","B"', b"A,B\r\n", b'"A\nB",C\n1,2\n'],
    ids=[
        "bom-only",
        "lf-only",
        "crlf-only",
        "blank-lines-only",
        "header-then-blanks",
        "header-no-lf",
        "quoted-header",
        "crlf-header",
        "header-with-a-line-break",
    ],
)
def test_edge_files_agree(tmp_path, data):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    native, _ = native_reading(path, tmp_path / "f.arrow")
    assert native == exact_reading(path)


def test_source_lines_of_a_plain_file_are_ordinal_plus_two(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"A,B\n" + b"".join(b"%d,x\n" % i for i in range(1000)))
    scan = scan_file(path, tmp_path / "f.arrow")
    assert scan.parsed.parser == "duckdb" and scan.records == 1000
    lines = [line for batch in scan.parsed.batches() for line in batch["_line"]]
    assert lines == list(range(2, 1002))
