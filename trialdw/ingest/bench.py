"""How fast the ingest reads and validates a landing, against DuckDB's own reading.

    python -m trialdw.ingest.bench LANDING [--studies DIR] [--only ingest|floor] [--work DIR]

``measure(landing, studies)`` runs, transfer by transfer, the transfer check and
the row validation (not the load into the warehouse: that is load.py's) and, on
the same files, the *floor*: DuckDB ``read_csv(path, all_varchar = true)`` of
every CSV file materialised as Arrow (what "just reading the files" costs with
DuckDB's defaults, sniffing included). The two alternate per transfer (and swap
order each time), so on a busy machine both see the same load and the same page
cache. Wall and CPU seconds are reported for both, with rows per second; CPU
seconds are the steadier figure on a shared machine. Peak RSS is the process's
(run ``--only ingest`` under ``/usr/bin/time -v`` to see the ingest's alone).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Clock:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def run(self, fn):
        wall, cpu = time.perf_counter(), _cpu()
        try:
            return fn()
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += _cpu() - cpu


def _floor_rows(files: list[Path]) -> int:
    """DuckDB reading the files with its defaults, every value VARCHAR, into Arrow."""
    from trialdw.ingest.csvnative import duckdb_cursor

    rows = 0
    cursor = duckdb_cursor()
    try:
        for path in files:
            table = cursor.sql("SELECT * FROM read_csv(?, all_varchar = true)", params=[str(path)]).to_arrow_table()
            rows += table.num_rows
    finally:
        cursor.close()
    return rows


def measure(landing: Path, studies: dict, work_dir: Path | None = None, only: str | None = None) -> dict:
    """Check + validate every transfer of ``landing`` and read its files with the
    floor; returns the figures (seconds, rows, rows/s, files read exactly, peak RSS)."""
    from trialdw.ingest.contracts import load_contracts
    from trialdw.ingest.rows import validate_transfer
    from trialdw.ingest.same_files import ValidatedFiles
    from trialdw.ingest.transfers import check_transfer, discover

    contracts = load_contracts()
    same_files = ValidatedFiles()  # as the night's ingest: a file sent again is validated once
    own_work = work_dir is None
    work = Path(work_dir or tempfile.mkdtemp(prefix="trialdw-bench-"))
    ours, floor = _Clock(), _Clock()
    rows = floor_rows = files = exact = transfers = rejected = 0
    try:
        for i, ref in enumerate(discover(Path(landing))):
            csvs = sorted(p for p in ref.path.glob("*.csv") if p.is_file())

            def ingest(ref=ref):
                check = check_transfer(ref, studies.get(ref.study), contracts, parse_dir=work, same_files=same_files)
                if not check.accepted:
                    return check, None
                return check, validate_transfer(ref, check, studies[ref.study], contracts, work, same_files)

            def read_floor(csvs=csvs):
                return _floor_rows(csvs)

            steps = [("ours", ingest), ("floor", read_floor)]
            for name, step in steps if i % 2 == 0 else reversed(steps):
                if only not in (None, name):
                    continue
                if name == "floor":
                    floor_rows += floor.run(step)
                    continue
                check, validated = ours.run(step)
                transfers += 1
                rejected += not check.accepted
                files += len(check.files)
                exact += sum(1 for f in check.files if getattr(f.parsed, "parser", None) == "python")
                if validated is not None:
                    rows += sum(d.rows_sent for d in validated.domains)
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    result = {
        "transfers": transfers,
        "rejected": rejected,
        "files": files,
        "files_read_exactly": exact,
        "rows": rows,
        "ingest_wall_s": round(ours.wall, 2),
        "ingest_cpu_s": round(ours.cpu, 2),
        "floor_rows": floor_rows,
        "floor_wall_s": round(floor.wall, 2),
        "floor_cpu_s": round(floor.cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if ours.wall and floor.wall:
        result["ratio_wall"] = round(ours.wall / floor.wall, 2)
        result["ratio_cpu"] = round(ours.cpu / floor.cpu, 2)
    if ours.wall:
        result["ingest_rows_per_s"] = round(rows / ours.wall)
    if floor.wall:
        result["floor_rows_per_s"] = round(floor_rows / floor.wall)
    return result


def main(argv: list[str] | None = None) -> int:
    from trialdw.environment import apply_quiet_offline_env
    from trialdw.study_config import load_studies

    apply_quiet_offline_env()
    parser = argparse.ArgumentParser(prog="python -m trialdw.ingest.bench", description=__doc__.splitlines()[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--studies", type=Path, default=None, help="folder of study files (default: studies/)")
    parser.add_argument("--only", choices=("ingest", "floor"), default=None)
    parser.add_argument("--work", type=Path, default=None, help="keep the validated Parquet files here")
    args = parser.parse_args(argv)
    studies = load_studies(args.studies) if args.studies else load_studies()
    only = {"ingest": "ours", "floor": "floor"}.get(args.only)
    for key, value in measure(args.landing, studies, args.work, only).items():
        print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
