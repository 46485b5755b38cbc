"""Progress of a long pull: a line per transfer, and every few seconds while a
transfer copies, how many files and bytes are done. Plain lines (stderr for the
CLI, the Prefect run log in the flow), no progress-bar dependency, nothing that
needs a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from trialdw.pull.outcomes import TransferOutcome, human_bytes

EVERY_SECONDS = 5.0


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Progress:
    def __init__(
        self,
        emit: Callable[[str], None] = to_stderr,
        every: float = EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.emit, self.every, self.clock = emit, every, clock
        self._where, self._files, self._total_files, self._bytes, self._total_bytes = "", 0, 0, 0, 0
        self._last = 0.0

    def start(self, where: str, files: int, total_bytes: int) -> None:
        self._where, self._files, self._total_files = where, 0, files
        self._bytes, self._total_bytes = 0, total_bytes
        self._last = self.clock()

    def advance(self, n: int) -> None:
        self._bytes += n
        now = self.clock()
        if now - self._last >= self.every:
            self._last = now
            self.emit(
                f"  … {self._where}: {self._files} of {self._total_files} file(s), "
                f"{human_bytes(self._bytes)} of {human_bytes(self._total_bytes)}"
            )

    def file_done(self) -> None:
        self._files += 1

    def outcome(self, outcome: TransferOutcome) -> None:
        self.emit(outcome.line())

    def note(self, line: str) -> None:
        self.emit(line)


class Silent(Progress):
    def __init__(self):
        super().__init__(emit=lambda line: None)
