"""Demo data generator: plausible, deterministic site exports (``trialdw synth``).

See docs/synth.md for what is generated and which defects are planted.
"""

from trialdw.synth.defects import Defect
from trialdw.synth.generate import SynthSummary, TransferSummary, generate

__all__ = ["Defect", "SynthSummary", "TransferSummary", "generate", "main"]


def main(argv: list[str] | None = None) -> int:
    from trialdw.synth.__main__ import main as _main

    return _main(argv)
