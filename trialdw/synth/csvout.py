"""Streaming CSV writers that know their checksum, record count and line numbers.

Rows go to disk one at a time (nothing held in memory), and every byte written
also feeds a sha256, so the manifest needs no second pass over the file.

Format choices (the spec allows either): RFC 4180 quoting by the csv module,
``\\n`` line endings (what most EDC exports on Linux produce), UTF-8 without BOM.
A quoted value may contain a line break, so a record can span several physical
lines; ``write`` returns the physical line where the record starts (header =
line 1), which is what a text editor and the warehouse findings show.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

LINE_TERMINATOR = "\n"


class TrackedCsvWriter:
    def __init__(self, path: Path, columns: tuple[str, ...]):
        self.path = path
        self.columns = columns
        self.rows = 0
        self._sha = hashlib.sha256()
        self._next_line = 1
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator=LINE_TERMINATOR, quoting=csv.QUOTE_MINIMAL)
        self._file = open(path, "wb")  # noqa: SIM115 (closed by close(); the writer streams)
        self._emit(list(columns))
        self.rows = 0  # the header is not a data record

    def _emit(self, values: list[str]) -> int:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow(values)
        text = self._buffer.getvalue()
        data = text.encode("utf-8")
        self._file.write(data)
        self._sha.update(data)
        line = self._next_line
        self._next_line += text.count("\n")
        self.rows += 1
        return line

    def write(self, row: dict[str, str]) -> int:
        """Write one record; returns the physical line it starts on."""
        return self._emit([row.get(c, "") for c in self.columns])

    def close(self) -> tuple[str, int]:
        """Close the file; returns (sha256 hex, data records)."""
        self._file.close()
        return self._sha.hexdigest(), self.rows


def write_manifest(
    folder: Path, study: str, site: str, transfer_id: str, exported_at: str, files: dict[str, tuple[str, int]]
) -> Path:
    """Written last: a transfer folder is complete only once its manifest exists."""
    manifest = {
        "study": study,
        "site": site,
        "transfer_id": transfer_id,
        "exported_at": exported_at,
        "files": {name: {"sha256": sha, "rows": rows} for name, (sha, rows) in files.items()},
    }
    path = folder / "manifest.json"
    tmp = folder / ".manifest.json.part"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
