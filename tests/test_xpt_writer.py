"""The streaming SAS transport v5 writer (trialdw.submission.xpt) writes the
same bytes as pyreadstat (readstat), which it replaced, and reads back exactly."""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pyarrow as pa
import pytest

from trialdw.submission import xpt

STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")  # the files' creation time
NUMBERS = [0.0, -0.0, 1.0, -2.5, 1 / 3, 1e-7, 1e16, 5e-324, 1.7976931348623157e308, 21915.0, math.nan, -1e-300]
TEXTS = ["a", None, "Ünïcode ≥ 3", "", "x" * 30, "tail  ", "b", "c", "d", "e", "f", "g"]


def _batches(size: int):
    table = pa.table({"AVAL": pa.array(NUMBERS, pa.float64()), "AVALC": pa.array(TEXTS, pa.string())})
    return table.to_batches(max_chunksize=size)


def _variables():
    width = max(len(t.encode()) for t in TEXTS if t)
    return [
        xpt.Variable("AVAL", numeric=True, width=8, label="Analysis Value", format_name="DATE", format_width=9),
        xpt.Variable("AVALC", numeric=False, width=width, label="Analysis Value (C)"),
    ]


@pytest.mark.parametrize("batch_rows", [1, 5, 100])
def test_same_bytes_as_pyreadstat(tmp_path, batch_rows):
    import pandas as pd
    import pyreadstat

    ours = tmp_path / "ours.xpt"
    xpt.write_xport(ours, "ADXX", "Test Dataset", _variables(), _batches(batch_rows), created=dt.datetime(2026, 1, 2))
    theirs = tmp_path / "theirs.xpt"
    pyreadstat.write_xport(
        pd.DataFrame({"AVAL": NUMBERS, "AVALC": TEXTS}),
        str(theirs),
        file_label="Test Dataset",
        table_name="ADXX",
        file_format_version=5,
        column_labels={"AVAL": "Analysis Value", "AVALC": "Analysis Value (C)"},
        variable_format={"AVAL": "DATE9."},
    )
    assert STAMP.sub(b"-", ours.read_bytes()) == STAMP.sub(b"-", theirs.read_bytes())


def test_reads_back(tmp_path):
    import pyreadstat

    path = tmp_path / "adxx.xpt"
    rows = xpt.write_xport(path, "ADXX", "Test Dataset", _variables(), _batches(4))
    frame, meta = pyreadstat.read_xport(path, disable_datetime_conversion=True)
    assert rows == len(NUMBERS) == len(frame)
    assert meta.table_name == "ADXX" and meta.file_label == "Test Dataset"
    assert meta.column_names_to_labels == {"AVAL": "Analysis Value", "AVALC": "Analysis Value (C)"}
    for got, want in zip(frame["AVAL"], NUMBERS, strict=True):
        if math.isnan(want):
            assert math.isnan(got)
        elif 1e-260 < abs(want) < 1e250:
            assert got == pytest.approx(want, rel=1e-15)
    assert [t or "" for t in frame["AVALC"]] == [(t or "").rstrip() for t in TEXTS]


def test_ibm_doubles_known_values():
    # TS-140's examples: 1 → 41 10 00…, -1 → C1 10 00…, 0.5 → 40 80 00…
    out = xpt.ibm_doubles(np.array([1.0, -1.0, 0.5, 0.0]))
    assert out[0].tobytes() == bytes([0x41, 0x10]) + bytes(6)
    assert out[1].tobytes() == bytes([0xC1, 0x10]) + bytes(6)
    assert out[2].tobytes() == bytes([0x40, 0x80]) + bytes(6)
    assert out[3].tobytes() == bytes(8)


def test_padded_text_pads_utf8_bytes():
    # Values of different lengths (a NULL, a 2-byte character), from a sliced array (offset 1).
    mixed = xpt._padded_text(pa.array(["ab", "cd", None, "é", "xyz"]).slice(1), 4)
    assert [row.tobytes() for row in mixed] == [b"cd  ", b"    ", b"\xc3\xa9  ", b"xyz "]
    # Every value as long as the first (the strided copy), sliced too.
    same = xpt._padded_text(pa.array(["AB", "CD", "EF"]).slice(1), 3)
    assert [row.tobytes() for row in same] == [b"CD ", b"EF "]
    assert xpt._padded_text(pa.array([None, None], pa.string()), 2).tobytes() == b"    "
    with pytest.raises(ValueError, match="3 bytes does not fit a width of 2"):
        xpt._padded_text(pa.array(["abc"]), 2)
