"""``python -m trialdw.synth OUT [--seed S] [--subjects N] [--sites K] [--transfers T] [--clean]``

The ``trialdw synth`` console command (trialdw/cli.py) calls ``generate`` the
same way; this entry point exists for running the generator on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from trialdw.study_config import load_studies
    from trialdw.synth.generate import generate

    parser = argparse.ArgumentParser(prog="python -m trialdw.synth", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="landing folder to write")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--subjects", type=int, default=24, help="subjects per study and site")
    parser.add_argument("--sites", type=int, default=1)
    parser.add_argument("--transfers", type=int, default=2, help="cumulative transfers per site")
    parser.add_argument("--clean", action="store_true", help="no deliberate defects")
    parser.add_argument("--studies", default=None, help="folder of study files (default: studies/)")
    args = parser.parse_args(argv)
    summary = generate(
        Path(args.out),
        seed=args.seed,
        subjects=args.subjects,
        sites=args.sites,
        studies=load_studies(args.studies),
        progress=lambda m: print(f"  {m}"),
        transfers=args.transfers,
        defects=not args.clean,
    )
    print(summary.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
