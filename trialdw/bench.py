"""Benchmark: how long each step of a night takes, by study size.

    python -m trialdw.bench [--subjects 24 200] [--sites 1] [--out DIR]

Runs the steps the flow runs (synth, ingest, dbt build, endpoints, readiness,
publish) directly, without Prefect's API server, so the figures are the work
itself; the flow adds its own overhead on top (a few seconds against a running
server, 20-30 s for a temporary one). Prints one table row per size.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from trialdw.environment import apply_quiet_offline_env


def _timed(label: str, fn, timings: dict):
    print(f"    {label} ...", flush=True)
    t0 = time.perf_counter()
    result = fn()
    timings[label] = time.perf_counter() - t0
    return result


def bench_size(root: Path, subjects: int, sites: int) -> dict:
    import duckdb

    from trialdw import warehouse as wh
    from trialdw.dbt_runner import dbt_build
    from trialdw.endpoints import compute_all
    from trialdw.ingest.contracts import load_contracts
    from trialdw.ingest.landing import ingest_landing
    from trialdw.ingest.load import ensure_raw_table
    from trialdw.readiness import run_readiness_checks
    from trialdw.study_config import load_studies, write_config_tables
    from trialdw.synth import generate

    studies = load_studies()
    timings: dict[str, float] = {}
    landing = root / f"landing-{subjects}"
    _timed("synth", lambda: generate(landing, subjects=subjects, sites=sites), timings)
    paths = wh.WarehousePaths(root / f"w-{subjects}" / "trialdw.duckdb")
    paths.folder.mkdir(parents=True)
    building = wh.start_building_file(paths, "bench")
    with duckdb.connect(str(building)) as con:
        write_config_tables(con, studies)
        for contract in load_contracts().values():
            ensure_raw_table(con, contract)
        summary = _timed("ingest", lambda: ingest_landing(con, landing, studies, paths.work, "bench"), timings)
    dbt = _timed("dbt build", lambda: dbt_build(building), timings)
    if not dbt.success:
        raise SystemExit(f"dbt build failed: {dbt.failures[:2]}")
    _timed("endpoints", lambda: compute_all(building), timings)
    ready = _timed("readiness", lambda: run_readiness_checks(building, paths.reports / "data-docs"), timings)
    _timed("publish", lambda: wh.publish(building, paths), timings)
    rows = summary.rows_loaded + summary.rows_quarantined
    return {
        "subjects": subjects * sites * len(studies),
        "rows": rows,
        "ready": ready.success,
        "size_mb": paths.published.stat().st_size / 1e6,
        **timings,
    }


def main(argv: list[str] | None = None) -> int:
    apply_quiet_offline_env()
    parser = argparse.ArgumentParser(prog="python -m trialdw.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[24, 200], help="subjects per study and site")
    parser.add_argument("--sites", type=int, default=1)
    parser.add_argument("--out", default=None, help="keep the files here (default: a temp folder, removed)")
    args = parser.parse_args(argv)
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="trialdw-bench-"))
    results = []
    try:
        for n in args.subjects:
            print(f"  {n} subjects per study and site:", flush=True)
            results.append(bench_size(root, n, args.sites))
    finally:
        if not args.out:
            shutil.rmtree(root, ignore_errors=True)
    steps = ["synth", "ingest", "dbt build", "endpoints", "readiness", "publish"]
    print("\n| subjects | rows sent | " + " | ".join(f"{s} (s)" for s in steps) + " | ingest rows/s | file MB |")
    print("|---:|---:|" + "---:|" * len(steps) + "---:|---:|")
    for r in results:
        print(
            f"| {r['subjects']} | {r['rows']} | "
            + " | ".join(f"{r[s]:.2f}" for s in steps)
            + f" | {r['rows'] / r['ingest']:.0f} | {r['size_mb']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
