"""Benchmark: what a night costs, measured against a floor in the same run.

    python -m trialdw.bench [--studies 10] [--subjects 500] [--sites 2] [--repeat 3]
                            [--out DIR] [--demo-only] [--portfolio-only] [--no-spark] [--keep]

1. **The demo's night**: the two seed studies (``make demo``'s landing: 24
   subjects per study) run by ``trialdw run`` against a running Prefect server;
   the flow time from the run log.
2. **A portfolio**: ``--studies`` study files (copies of the two seed study
   files under new STUDYIDs), ``trialdw synth --studies`` of ~10 M rows, then
   three nights with the real CLI against the same server: the first night,
   a night with nothing new, and a night after one site sent a new transfer
   (a copy of its latest one with some values changed). Before the nights,
   the transfer checks and row validation alone (``trialdw.ingest.bench``),
   alternating transfer by transfer with the floor's reading of the same files.
   With ``--repeat N`` (default 3) the demo's night and the portfolio's run
   (the floor, then the three nights, in a warehouse and a landing of its
   own) are measured N times; the figures are medians, every run's figure
   printed beside them, and each ratio is taken within its run before the
   median (``run_ratios``): on this machine the same work runs 10-20 %
   faster or slower from one quarter of an hour to the next, and a floor
   measured minutes before a night would be compared at another speed.

Every night is timed with the libraries it imports in the page cache
(``warm_page_cache``, untimed, before each night: this machine reclaims
cached pages left alone for a while, and reading them back from its disk made
the first night of a bench up to three times slower in every step).

The floor is DuckDB's own ``read_csv(all_varchar=true)`` of the same CSV files
into tables, measured here, in this run, on this machine; every figure is also
printed as a ratio to it (or to the first night). Peak memory is the largest
sum of resident sets of a night's process and its children (the report and
export shares, trialdw.parallel), sampled every 0.2 s from /proc; shared
pages count once per process, so the figure errs high. Nothing is asserted:
the figures go in the README's speed section and in issue notes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trialdw.environment import apply_quiet_offline_env
from trialdw.project import PROJECT_ROOT

TARGETS = {
    "validate + load / floor": 2.0,
    "first night / floor": 5.0,
    "nothing new / first night": 0.05,
    "one site's new transfer / first night": 0.15,
}


def portfolio_studies(folder: Path, copies: int) -> list[str]:
    """``copies`` study files: the seed studies under new ids (…-P1, …-P2 …)."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = sorted((PROJECT_ROOT / "studies").glob("*.yml"))
    ids = []
    for i in range(copies):
        seed = seeds[i % len(seeds)]
        study = f"{seed.stem}-P{i // len(seeds) + 1}"
        text = seed.read_text(encoding="utf-8").replace(f"study: {seed.stem}", f"study: {study}", 1)
        (folder / f"{study}.yml").write_text(text, encoding="utf-8")
        ids.append(study)
    return ids


def floor_seconds(landing: Path) -> tuple[float, int]:
    """DuckDB reading every CSV of the landing into a table, all columns text.
    The files are read once before the clock starts (into the page cache, as
    for the night that follows: ``warm_page_cache``), so neither figure pays
    this machine's disk."""
    import duckdb

    files = sorted(landing.glob("*/*/*/*.csv"))
    for path in files:
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
    con = duckdb.connect()
    rows = 0
    started = time.perf_counter()
    for path in files:
        con.execute("CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM read_csv(?, all_varchar = true)", [str(path)])
        rows += con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    return time.perf_counter() - started, rows


def new_transfer(landing: Path, study: str, site: str, changed_rows: int = 200) -> str:
    """A new cumulative transfer of one site: its latest one again, a day later,
    with ``changed_rows`` lab values changed (the manifest made to match)."""
    site_dir = landing / study / site
    latest = sorted(p for p in site_dir.iterdir() if p.is_dir())[-1]
    transfer_id = latest.name[:8] + "T235959Z"  # later the same day (synth exports at 02:00)
    target = site_dir / transfer_id
    shutil.copytree(latest, target)
    lab = target / "LB.csv"
    lines = lab.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    column = header.index("LBSTRESN")
    changed = 0
    for i in range(1, len(lines)):
        fields = lines[i].split(",")
        if changed < changed_rows and len(fields) == len(header) and fields[column].replace(".", "", 1).isdigit():
            fields[column] = f"{float(fields[column]) + 1:g}"
            lines[i] = ",".join(fields)
            changed += 1
    lab.write_text("\n".join(lines), encoding="utf-8")
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["transfer_id"] = transfer_id
    manifest["exported_at"] = f"{transfer_id[:4]}-{transfer_id[4:6]}-{transfer_id[6:8]}T23:59:59Z"
    manifest["files"]["LB.csv"]["sha256"] = hashlib.sha256(lab.read_bytes()).hexdigest()
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return transfer_id


# What a night's processes import (the CLI and flow; lazily: dbt in its worker,
# the contracts' pandera, the checks' GX, the endpoints' lifelines and scipy, the
# pages' matplotlib and great_tables, the exports' odmlib).
NIGHT_IMPORTS = (
    "trialdw.cli",
    "flows.nightly",
    "dbt.cli.main",
    "dbt.adapters.duckdb",
    "pandera.polars",
    "great_expectations",
    "lifelines",
    "scipy.stats",
    "matplotlib.pyplot",
    "great_tables",
    "odmlib.define_2_1.model",
)


def warm_page_cache(env: dict) -> float:
    """Import what a night imports, in a throwaway process, before a night is timed;
    returns the seconds it took.

    Why: this machine reclaims page-cache pages nobody touched for a while (a
    DAMON reclaim thread, kdamond, runs), and reading the libraries back from
    its disk is slow. With the cache dropped, importing pandera, Prefect, dbt
    and lifelines took 2.2, 3.5, 4.1 and 4.8 s against ~0.3-1.5 s warm, and a
    demo night that followed a quiet spell took 46 s against 16 s for the next
    two (its ingest 18.6 s against 3.2 s: the imports). That is the disk's
    speed, not the night's work, and the floor (DuckDB alone) barely pays it,
    so every night is timed with the libraries in the cache, as a machine that
    runs nights gets them; the warm-up's own time is printed, not counted."""
    started = time.perf_counter()
    code = "import importlib, sys\nfor name in sys.argv[1:]: importlib.import_module(name)"
    done = subprocess.run(
        [sys.executable, "-c", code, *NIGHT_IMPORTS], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:  # what the libraries print on import (GX: "Skipping doctests") is not shown
        raise SystemExit(f"the page-cache warm-up failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def run_night(
    landing: Path, warehouse: Path, env: dict, studies: Path | None = None, extra: tuple[str, ...] = ()
) -> dict:
    """``trialdw run`` as a child process; its flow time from the run log, its
    step timings from audit.runs, its peak memory from the kernel. ``extra``:
    more arguments (``--engine spark …``). The libraries are read into the page
    cache first (``warm_page_cache``: untimed, its seconds returned as ``warm_up``)."""
    warm_up = warm_page_cache(env)
    args = [sys.executable, "-m", "trialdw.cli", "run", "--landing", str(landing), "--warehouse", str(warehouse)]
    if studies:
        args += ["--studies", str(studies)]
    args += list(extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err, text=True)
        tree_peak = _tree_peak_bytes(proc)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())
    if done.returncode not in (0, 2):
        raise SystemExit(f"night failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if tree_peak:  # Linux: the process tree's sum; elsewhere the largest single process
        peak_kb = tree_peak // 1024
    log = [json.loads(line) for line in (warehouse.parent / f"{warehouse.stem}-runs.jsonl").read_text().splitlines()]
    start, end = next(e for e in reversed(log) if e["event"] == "start"), log[-1]
    flow = _seconds(end["at"]) - _seconds(start["at"])
    steps = end.get("details", {}).get("steps_seconds", {})
    return {
        "flow": flow,
        "wall": wall,
        "steps": steps,
        "dbt": end.get("details", {}).get("dbt", []),
        "peak_mb": max(peak_kb, before) / 1024,
        "warm_up": warm_up,
        "news": next((line[12:] for line in done.stdout.splitlines() if line.startswith("night")), ""),
    }


def _tree_peak_bytes(proc: subprocess.Popen, every: float = 0.2) -> int:
    """Wait for ``proc``; the largest sum of resident sets of it and its
    descendants seen meanwhile (0 without /proc)."""
    proc_fs = Path("/proc")
    if not (proc_fs / str(proc.pid)).is_dir():
        proc.wait()
        return 0
    import os

    page = os.sysconf("SC_PAGE_SIZE")
    peak = 0
    while proc.poll() is None:
        parents: dict[int, int] = {}
        resident: dict[int, int] = {}
        for entry in proc_fs.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                resident[int(entry.name)] = int((entry / "statm").read_text().split()[1]) * page
            except (OSError, ValueError, IndexError):
                continue  # ended meanwhile
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        tree, grew = {proc.pid}, True
        while grew:
            grown = tree | {pid for pid, parent in parents.items() if parent in tree}
            grew, tree = grown != tree, grown
        peak = max(peak, sum(resident.get(pid, 0) for pid in tree))
        time.sleep(every)
    return peak


def _seconds(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp()


def parse_project(root: Path) -> None:
    """Parse the dbt project as the first night of this code version on this
    machine does (kept for every later warehouse: trialdw.dbt_manifest_cache),
    so the nights below measure a night's work, and say what it cost."""
    from trialdw import dbt_manifest_cache
    from trialdw.dbt_runner import BUILD_FILE_NAME, DbtSession

    key = dbt_manifest_cache.manifest_key("warehouse", "", Path(BUILD_FILE_NAME).stem)
    kept = dbt_manifest_cache.load(key) is not None
    started = time.perf_counter()
    session = DbtSession(root / "parse")
    session.manifest(root / "parse" / BUILD_FILE_NAME)
    session.close()
    seconds = time.perf_counter() - started
    state = "already parsed on this machine" if kept else "parsed now, once per code version and machine"
    print(f"  dbt project: {state} ({seconds:.1f} s)", flush=True)


def demo_night(root: Path, env: dict, repeat: int = 1) -> dict:
    """The demo's night, ``repeat`` times (each in a new warehouse of its own);
    the returned night is the median one by flow time."""
    from trialdw.synth import generate

    landing = root / "demo" / "landing"
    generate(landing)
    nights = [
        run_night(landing, root / "demo" / (f"wh-{i}" if repeat > 1 else "wh") / "trialdw.duckdb", env)
        for i in range(repeat)
    ]
    night = sorted(nights, key=lambda n: n["flow"])[(len(nights) - 1) // 2]
    flows = _runs([n["flow"] for n in nights])
    print(f"  demo night (2 studies, 48 subjects): flow {flows} (target <= 15 s)", flush=True)
    print(f"    steps{' of the median night' if repeat > 1 else ''}: {_steps(night['steps'])}", flush=True)
    return night


def spark_demo_night(root: Path, env: dict, duckdb_night: dict) -> dict | None:
    """The same demo landing with ``--engine spark`` (local[*]: this machine's
    cores), its dbt build time printed beside DuckDB's. For the record: local
    Spark on two cores is not what Spark is for, so there is no target."""
    from trialdw.engines.spark import SparkUnavailable, check_available

    try:
        check_available()
    except SparkUnavailable as exc:
        print(f"  demo night on Spark: skipped ({exc})", flush=True)
        return None
    landing = root / "demo" / "landing"
    spark_dir = root / "demo" / "spark-warehouse"
    night = run_night(
        landing,
        root / "demo" / "spark" / "trialdw.duckdb",
        env,
        extra=("--engine", "spark", "--spark-warehouse", str(spark_dir)),
    )
    parts = {k: v for group in night["dbt"] for k, v in (group.get("seconds") or {}).items()}
    print(
        f"  demo dbt build: DuckDB {duckdb_night['steps'].get('dbt build', float('nan')):.1f} s, "
        f"Spark {night['steps'].get('dbt build', float('nan')):.1f} s "
        f"({_steps(parts)}) (no target)",
        flush=True,
    )
    print(f"  demo night on Spark: flow {night['flow']:.1f} s", flush=True)
    print(f"    steps: {_steps(night['steps'])}", flush=True)
    return night


def portfolio(root: Path, env: dict, copies: int, subjects: int, sites: int, repeat: int = 1) -> dict:
    """The portfolio's figures. ``repeat``: the nights measured that many times,
    each run in a warehouse and a landing of its own (the synthetic landing
    hard-linked: the same files), one run after the other: the floor, the first
    night, the nothing-new night, then one site's new transfer lands and the
    one-site night. Each ratio is taken within its run (``run_ratios``): on
    this machine the same work runs 10-20 % faster or slower from one quarter
    of an hour to the next, so a floor and a night measured minutes apart
    would be compared at different speeds. The report gives medians, every
    run's figures beside them."""
    from trialdw.ingest.bench import measure as measure_ingest
    from trialdw.study_config import load_studies
    from trialdw.synth import generate

    studies_dir = root / "portfolio" / "studies"
    ids = portfolio_studies(studies_dir, copies)
    landing = root / "portfolio" / "landing"
    print(f"  synth: {copies} studies x {sites} sites x {subjects} subjects ...", flush=True)
    generate(landing, subjects=subjects, sites=sites, studies=load_studies(studies_dir))
    size_mb = sum(p.stat().st_size for p in landing.rglob("*.csv")) / 1e6
    print("  check + validate alone, transfer by transfer against the floor (trialdw.ingest.bench) ...", flush=True)
    validate = measure_ingest(landing, load_studies(studies_dir))
    floors: list[float] = []
    nights: dict[str, list[dict]] = {"first": [], "nothing new": [], "one site's new transfer": []}
    for i in range(1, repeat + 1):
        own = root / "portfolio" / (f"run-{i}" if repeat > 1 else "run")
        run_landing = own / "landing"
        shutil.copytree(landing, run_landing, copy_function=os.link)  # the same files; a new transfer is its own
        warehouse = own / "wh" / "trialdw.duckdb"
        floor, rows = floor_seconds(run_landing)
        floors.append(floor)
        print(f"  floor{_of(i, repeat)}: {rows:,} rows, {size_mb:,.0f} MB read in {floor:.1f} s", flush=True)
        print(f"  night 1 (everything new){_of(i, repeat)} ...", flush=True)
        nights["first"].append(run_night(run_landing, warehouse, env, studies_dir))
        print(f"  night 2 (nothing new){_of(i, repeat)} ...", flush=True)
        nights["nothing new"].append(run_night(run_landing, warehouse, env, studies_dir))
        transfer = new_transfer(run_landing, ids[0], "101")
        print(f"  night 3 (new transfer {ids[0]}/101/{transfer}){_of(i, repeat)} ...", flush=True)
        nights["one site's new transfer"].append(run_night(run_landing, warehouse, env, studies_dir))
    return {"floors": floors, "rows": rows, "size_mb": size_mb, "nights": nights, "validate": validate}


def ingest_seconds(night: dict) -> float:
    """The night's ingest step (validate + load), NaN if the run log has none."""
    return night["steps"].get("ingest", float("nan"))


def run_ratios(result: dict) -> dict[str, list[float]]:
    """Each target's ratio in each run, against that run's own floor or first
    night: ``result["floors"][i]`` and ``result["nights"][name][i]`` are run i's."""
    nights = result["nights"]
    ratios: dict[str, list[float]] = {key: [] for key in TARGETS}
    for i, floor in enumerate(result["floors"]):
        first = nights["first"][i]["flow"]
        ratios["validate + load / floor"].append(ingest_seconds(nights["first"][i]) / floor)
        ratios["first night / floor"].append(first / floor)
        ratios["nothing new / first night"].append(nights["nothing new"][i]["flow"] / first)
        ratios["one site's new transfer / first night"].append(nights["one site's new transfer"][i]["flow"] / first)
    return ratios


def _of(i: int, repeat: int) -> str:
    return f", run {i} of {repeat}" if repeat > 1 else ""


def _runs(values: list[float], unit: str = " s") -> str:
    """``median`` alone, or ``median (each run: a, b, c)``."""
    if len(values) == 1:
        return f"{values[0]:.1f}{unit}"
    return f"{median(values):.1f}{unit} (median; each run: {', '.join(f'{v:.1f}' for v in values)})"


def median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def _steps(steps: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in steps.items())


def report(result: dict) -> None:
    """The table of medians (ratios: the median of the runs' own, ``run_ratios``),
    every run's figures below it, with each night's steps."""
    floor = median(result["floors"])
    nights = {name: [n["flow"] for n in runs] for name, runs in result["nights"].items()}
    ingests = [ingest_seconds(n) for n in result["nights"]["first"]]
    per_run = run_ratios(result)
    ratios = {key: median(values) for key, values in per_run.items()}
    repeat = len(result["floors"])
    runs = f", median of {repeat} runs" if repeat > 1 else ""
    print()
    print(f"| portfolio: {result['rows']:,} rows, {result['size_mb']:,.0f} MB{runs} | seconds | ratio | target |")
    print("|---|---:|---:|---:|")
    print(f"| floor: DuckDB read_csv(all_varchar) of the same files | {floor:.1f} | 1.00 | |")
    v = result["validate"]
    print(
        f"| check + validate alone (CPU s; floor read alongside: {v['floor_cpu_s']:.1f} CPU s) "
        f"| {v['ingest_cpu_s']:.1f} | {v['ratio_cpu']:.2f} | ≤ 2 |"
    )
    print(
        f"| validate + load (first night's ingest) | {median(ingests):.1f} "
        f"| {ratios['validate + load / floor']:.2f} | ≤ 2 |"
    )
    print(f"| first night (flow) | {median(nights['first']):.1f} | {ratios['first night / floor']:.2f} | ≤ 5 |")
    for name in ("nothing new", "one site's new transfer"):
        key = f"{name} / first night"
        seconds = median(nights[name])
        print(f"| {name} (flow) | {seconds:.1f} | {ratios[key]:.3f} of first night | ≤ {TARGETS[key]} |")
    peak = max(n["peak_mb"] for runs in result["nights"].values() for n in runs)
    print(f"| peak memory of a night | {peak:,.0f} MB | | ≤ 2048 MB |")
    print()
    if repeat > 1:
        print("  ratios, each within its run (the table: their median):")
        for key, values in per_run.items():
            print(f"    {key}: {', '.join(f'{r:.3f}' for r in values)}")
        print(f"  floor: {_runs(result['floors'])}")
        print(f"  validate + load: {_runs(ingests)}")
    for name, runs_of_night in result["nights"].items():
        for i, night in enumerate(runs_of_night, start=1):
            # wall: the whole `trialdw run`, Prefect's start of the flow run and the
            # dbt process it starts meanwhile (trialdw.dbt_worker.prestart) included.
            print(
                f"  {name}{_of(i, repeat)}: {night['news']} (flow {night['flow']:.1f} s, wall {night['wall']:.1f} s; "
                f"libraries read into the page cache before it, untimed: {night.get('warm_up', 0):.1f} s)"
            )
            print(f"    steps: {_steps(night['steps'])}")


def main(argv: list[str] | None = None) -> int:
    apply_quiet_offline_env()
    parser = argparse.ArgumentParser(prog="python -m trialdw.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=10, help="studies in the portfolio (default 10)")
    parser.add_argument("--subjects", type=int, default=500, help="subjects per study and site (default 500)")
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--demo-only", action="store_true")
    parser.add_argument("--portfolio-only", action="store_true")
    parser.add_argument("--no-spark", action="store_true", help="skip the demo night on Spark")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="the demo's night, the floor and the portfolio's nights measured this many times (default 3)",
    )
    args = parser.parse_args(argv)

    from trialdw.ops.prefect_server import running_prefect_server

    root = Path(args.out or tempfile.mkdtemp(prefix="trialdw-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"trialdw bench in {root} (2 cores; figures measured in this run)", flush=True)
    try:
        with running_prefect_server(root / "prefect") as (_api_url, env):
            parse_project(root)
            if not args.portfolio_only:
                night = demo_night(root, env, max(1, args.repeat))
                if not args.no_spark:
                    spark_demo_night(root, env, night)
            if not args.demo_only:
                report(portfolio(root, env, args.studies, args.subjects, args.sites, max(1, args.repeat)))
    finally:
        if not args.keep and not args.out:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
