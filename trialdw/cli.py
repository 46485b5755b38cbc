"""The `trialdw` command line.

    trialdw synth OUT [--seed S] [--subjects N] [--sites K]
    trialdw pull SOURCE LANDING [--identity KEYFILE] [--known-hosts FILE] [--endpoint-url URL] [--verify]
    trialdw pull --sources FILE LANDING [--verify]
    trialdw run --landing DIR --warehouse FILE [--sources FILE] [--studies DIR] [--readiness-contract YML]
    trialdw run --engine spark --landing DIR [--spark-warehouse DIR] [--spark-master URL] [--warehouse FILE]
    trialdw serve --landing DIR --warehouse FILE [--sources FILE] [--cron "0 2 * * *"] [--timezone TZ] [--name N]
                  [--engine spark [--spark-warehouse DIR] [--spark-master URL]]
    trialdw sql FILE "SELECT ..."          (read-only)
    trialdw review serve --warehouse FILE [--host 127.0.0.1] [--port 8765]
    trialdw users add NAME --role data-manager|viewer --warehouse FILE [--password-stdin]
    trialdw users list --warehouse FILE
    trialdw users disable NAME --warehouse FILE
    trialdw users password NAME --warehouse FILE [--password-stdin]

Exit status: 0 when the command completed (quarantined rows are findings, not
failures; an incomplete transfer waits for the next pull); 1 with a one-line
reason when it could not; 2 for bad usage, and for a pull that completed but
refused transfers (one line naming them).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from trialdw.environment import apply_quiet_offline_env
from trialdw.project import PROJECT_ROOT
from trialdw.study_config import ConfigError

FLOW_FILE = PROJECT_ROOT / "flows" / "nightly.py"
# The review app listens on loopback unless told otherwise; TLS belongs to a reverse proxy in front.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def load_nightly_flow():
    """The flow lives in flows/nightly.py (one readable file), imported as
    ``flows.nightly`` from the project root. An importable name matters: a
    served deployment runs each flow run in a spawned process, which finds the
    flow again by module name (spawn passes sys.path on to the child)."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.append(str(PROJECT_ROOT))
    module = importlib.import_module("flows.nightly")
    if Path(module.__file__).resolve() != FLOW_FILE.resolve():
        raise ConfigError(f"'flows.nightly' resolves to {module.__file__}, not {FLOW_FILE}")
    return module.nightly


def _version() -> str:
    """The package version and, in a checkout, the commit."""
    from importlib.metadata import PackageNotFoundError, version

    from trialdw.warehouse import code_version

    try:
        release = version("trialdw")
    except PackageNotFoundError:
        release = "unknown"
    commit = code_version()
    return release if commit.startswith("trialdw") else f"{release} ({commit})"


def _fail(message: str) -> int:
    print(f"trialdw: {message}", file=sys.stderr)
    return 1


def cmd_synth(args: argparse.Namespace) -> int:
    from trialdw.study_config import load_studies
    from trialdw.synth import generate

    summary = generate(
        Path(args.out),
        seed=args.seed,
        subjects=args.subjects,
        sites=args.sites,
        studies=load_studies(args.studies),
        progress=lambda msg: print(f"  {msg}"),
    )
    print(summary.describe())
    return 0


HELD_BACK_EXIT = 2  # the night completed, but at least one study kept its previous tables
REFUSED_EXIT = 2  # trialdw pull: completed, but a transfer was refused


def cmd_pull(args: argparse.Namespace) -> int:
    """Copy new complete transfers from a drop zone (or every source of a sources file)
    into LANDING; progress on stderr, the counts on stdout."""
    from trialdw.pull import load_sources, pull_sources, source_from_url

    if args.sources:
        if len(args.paths) != 1:
            return _fail("with --sources give only LANDING: trialdw pull --sources FILE LANDING")
        sources = load_sources(Path(args.sources))
    else:
        if len(args.paths) != 2:
            return _fail("give SOURCE and LANDING (or --sources FILE and LANDING)")
        sources = [
            source_from_url(
                args.paths[0], identity=args.identity, known_hosts=args.known_hosts, endpoint_url=args.endpoint_url
            )
        ]
    landing = Path(args.paths[-1])
    report = pull_sources(sources, landing, verify=args.verify)
    print(f"pulled into {landing}: {report.summary()}")
    failed = report.of("failed")
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return _fail(f"pull could not complete: {failed[0].reason}{more}")
    refused = report.of("refused")
    if refused:
        print(
            f"trialdw: refused {len(refused)} transfer(s): "
            + "; ".join(f"{o.where} [{o.rule}]" for o in refused)
            + " (see the lines above)",
            file=sys.stderr,
        )
        return REFUSED_EXIT
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Exit 0: everything published; 2: completed with study(ies) held back (the
    last line names them and why); 1: could not run (one line, no traceback)."""
    landing = Path(args.landing)
    if not args.sources and not landing.is_dir():
        return _fail(f"landing folder {landing} does not exist")
    warehouse, spark_warehouse = _run_locations(args)
    if warehouse is None:
        return _fail("give --warehouse FILE (with --engine spark: --spark-warehouse DIR, or both)")
    if args.engine == "spark":
        from trialdw.engines.spark import SparkUnavailable, check_available

        try:
            check_available()
        except SparkUnavailable as exc:
            return _fail(str(exc))
    from trialdw.study_config import load_studies

    load_studies(args.studies)  # a broken study file fails here, before Prefect starts
    sources = None
    if args.sources:
        from trialdw.pull import load_sources

        load_sources(Path(args.sources))  # so does a broken sources file
        sources = str(Path(args.sources).resolve())  # its path only: credentials stay referenced
    from trialdw import dbt_worker

    if args.engine != "spark":
        # dbt's process warms up while Prefect starts the flow run; the night takes it over.
        from trialdw.warehouse import WarehousePaths

        dbt_worker.prestart(WarehousePaths(Path(warehouse).resolve()).dbt_state)
    nightly = load_nightly_flow()
    engine = {}
    if args.engine == "spark":  # the DuckDB night's call stays exactly as it was
        engine = {"engine": "spark", "spark_master": args.spark_master, "spark_warehouse": str(spark_warehouse)}
        _stop_spark_started_here.running_before = _spark_running()
    try:
        state = nightly(
            landing=str(landing),
            warehouse=str(warehouse),
            studies_dir=args.studies,
            readiness_contract=args.readiness_contract,
            notify_command=args.notify_command,
            sources=sources,
            return_state=True,
            **engine,
        )
    finally:
        dbt_worker.discard_prestarted()  # a night refused before it took the worker over
        if engine:
            _stop_spark_started_here()
    if not state.is_completed():
        from trialdw.warehouse import WarehouseBusy

        outcome = state.result(raise_on_failure=False)
        reason = str(outcome) if isinstance(outcome, BaseException) else (state.message or state.name)
        reason = (reason.strip().splitlines() or [state.name])[0]
        if isinstance(outcome, WarehouseBusy):
            return _fail(f"run refused: {reason}")
        return _fail(f"run failed, previous warehouse left in place: {reason}")
    summary = state.result()
    print(f"night     : {summary['news']}")
    if summary.get("pulled"):
        print(f"pulled    : {summary['pulled']}  (per transfer: run-summary.md, review.html, audit.pulls)")
    print(f"warehouse : {summary['warehouse']}" + ("" if summary["published"] else "  (unchanged)"))
    if args.engine == "spark":
        print(
            f"spark     : {spark_warehouse}/<schema>.db/<table>/  (raw audit config adam analysis data_review;"
            " Spark SQL, or DuckDB read_parquet)" + ("" if summary["published"] else "  (unchanged)")
        )
    print(f'            query it read-only: trialdw sql {summary["warehouse"]} "SELECT * FROM analysis.endpoints"')
    print(f"reports   : {summary['study_reports']}  (KM, waterfall, swimmer, endpoints, AEs per study)")
    print(f"review    : {summary['review_page']}  (data managers: transfers, findings, findings.csv)")
    print(f"            {summary['reports']}  (run-summary.md, data-docs/index.html, lineage/index.html)")
    print(f"exports   : {summary['exports']}  (Parquet, SAS XPT, Dataset-JSON, define.xml per study)")
    print(
        f"findings  : {summary['findings_open']} open, {summary['findings_resolved']} resolved"
        " -> SELECT * FROM audit.findings WHERE STATUS = 'open'"
    )
    print(
        f"rows      : {summary['rows_loaded']} loaded, {summary['rows_quarantined']} quarantined"
        f" in current transfers; {summary['subjects']} subjects"
    )
    for line in summary["studies"]:
        print(f"study     : {line}")
    if summary["held_back"]:
        names = "; ".join(f"{study}: {reason}" for study, reason in sorted(summary["held_back"].items()))
        print(f"trialdw: held back (previous tables kept): {names}", file=sys.stderr)
        return HELD_BACK_EXIT
    return 0


def _spark_running() -> bool:
    import sys as _sys

    if "pyspark" not in _sys.modules:
        return False
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    return active is not None or getattr(SparkSession, "_instantiatedSession", None) is not None


def _stop_spark_started_here() -> None:
    """Stop the night's SparkSession (a clean end for the metastore and the JVM),
    unless it was running before the command (a test session, a notebook)."""
    if getattr(_stop_spark_started_here, "running_before", False) or not _spark_running():
        return
    from trialdw.engines.spark_session import stop_spark_session

    stop_spark_session()


def _run_locations(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """(warehouse FILE, Spark warehouse DIR) of ``trialdw run``. On Spark either
    gives the other: DIR defaults to ``spark-warehouse`` beside FILE, FILE (the
    history store, run log, reports and DuckDB copy beside it) to ``DIR/_trialdw/trialdw.duckdb``."""
    warehouse = Path(args.warehouse) if args.warehouse else None
    if args.engine != "spark":
        return warehouse, None
    spark_dir = Path(args.spark_warehouse) if args.spark_warehouse else None
    if spark_dir is None and warehouse is not None:
        spark_dir = warehouse.resolve().parent / "spark-warehouse"
    if warehouse is None and spark_dir is not None:
        warehouse = spark_dir / "_trialdw" / "trialdw.duckdb"
    return warehouse, spark_dir.resolve() if spark_dir else None


def cmd_serve(args: argparse.Namespace) -> int:
    """Register the nightly deployment with its schedule and serve it until stopped."""
    from trialdw.ops.serve import ServeError, serve_nightly
    from trialdw.study_config import load_studies

    landing = Path(args.landing)
    if not args.sources and not landing.is_dir():
        return _fail(f"landing folder {landing} does not exist")
    load_studies(args.studies)
    if args.sources:
        from trialdw.pull import load_sources

        load_sources(Path(args.sources))
    engine = None
    if args.engine == "spark":
        _, spark_warehouse = _run_locations(args)
        engine = {"engine": "spark", "spark_master": args.spark_master, "spark_warehouse": str(spark_warehouse)}
    try:
        serve_nightly(
            load_nightly_flow(),
            name=args.name,
            landing=landing,
            warehouse=Path(args.warehouse),
            studies_dir=args.studies,
            sources=args.sources,
            cron=args.cron,
            timezone=args.timezone,
            engine=engine,
        )
    except ServeError as exc:
        return _fail(str(exc))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Query the published warehouse read-only (never blocks, never blocked by a run)."""
    import duckdb

    path = Path(args.warehouse)
    if not path.is_file():
        return _fail(f"no warehouse at {path}")
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            relation = con.sql(args.query)
        except duckdb.Error as exc:
            return _fail(f"query failed: {str(exc).splitlines()[0]}")
        if relation is None:
            return 0
        if args.csv:
            import csv

            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(relation.columns)
            writer.writerows(relation.fetchall())
        else:
            relation.show(max_rows=args.max_rows, max_width=10_000)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (one line) or a prompt asked twice; never from the command line (it would sit in
    the shell history and in every process listing)."""
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    import getpass

    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        raise ValueError("the two passwords differ")
    return first


def _warehouse_paths(args: argparse.Namespace):
    from trialdw.warehouse import WarehousePaths

    return WarehousePaths(Path(args.warehouse).resolve())


def _log_account_event(paths, event: str, name: str, detail: str | None = None) -> None:
    import getpass

    from trialdw.review_app.annotations import AnnotationStore

    who = f"by OS user {getpass.getuser()}"
    AnnotationStore(paths.annotations).log_event(event, name, "cli", f"{detail}, {who}" if detail else who)


def cmd_users(args: argparse.Namespace) -> int:
    """Accounts of the review app, in <stem>-users.json beside the warehouse (scrypt hashes, mode 0600)."""
    from trialdw.review_app.accounts import AccountError, UsersFile

    paths = _warehouse_paths(args)
    users = UsersFile(paths.users)
    try:
        if args.users_command == "add":
            account = users.add(args.name, args.role, _read_password(args))
            _log_account_event(paths, "user_added", account.name, f"role {account.role}")
            print(f"added {account.name} ({account.role}) to {paths.users}")
        elif args.users_command == "password":
            if users.get(args.name) is None:
                return _fail(f"no user {args.name}")
            account = users.set_password(args.name, _read_password(args))
            _log_account_event(paths, "password_set", account.name)
            print(f"new password set for {account.name}")
        elif args.users_command == "disable":
            account = users.disable(args.name)
            _log_account_event(paths, "user_disabled", account.name)
            print(f"disabled {account.name}: cannot log in; open sessions end at their next request")
        else:
            accounts = users.accounts()
            if not accounts:
                print(f"no accounts in {paths.users}")
            for account in accounts:
                status = "disabled" if account.disabled else "active"
                print(f"{account.name:<24} {account.role:<13} {status:<9} created {account.created_at}")
    except (AccountError, ValueError) as exc:
        return _fail(str(exc))
    except (EOFError, KeyboardInterrupt):
        return _fail("no password given")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """Serve the review app over the published warehouse until stopped."""
    from trialdw.review_app.accounts import AccountError, UsersFile
    from trialdw.warehouse import WarehousePaths

    paths = WarehousePaths(Path(args.warehouse).resolve())
    if not paths.published.is_file():
        return _fail(f"no published warehouse at {paths.published}: run a night first (trialdw run)")
    try:
        accounts = UsersFile(paths.users).accounts()
    except AccountError as exc:
        return _fail(str(exc))
    if not any(not a.disabled for a in accounts):
        return _fail(
            f"no active account in {paths.users}: "
            f"trialdw users add NAME --role data-manager --warehouse {args.warehouse}"
        )
    from trialdw.review_app.server import serve

    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"trialdw: serving on {args.host}: put a TLS-terminating reverse proxy in front (docs/data-managers.md)",
            file=sys.stderr,
        )
    print(f"review app: http://{args.host}:{args.port}/  (warehouse {paths.published}, Ctrl-C to stop)", flush=True)
    serve(
        paths.published,
        host=args.host,
        port=args.port,
        idle_seconds=args.idle_minutes * 60,
        absolute_seconds=args.session_hours * 3600,
    )
    return 0


def _engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where dbt builds and the tables are published (default duckdb; spark: docs/spark.md)",
    )
    parser.add_argument(
        "--spark-master", default=None, help="Spark master URL (default local[*]; e.g. spark://host:7077, yarn)"
    )
    parser.add_argument(
        "--spark-warehouse",
        default=None,
        help="Spark warehouse: tables land in DIR/<schema>.db/<table>/ (default: spark-warehouse beside FILE)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trialdw", description="Clinical trial data warehouse")
    parser.add_argument("--version", action="version", version=f"trialdw {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write demo site exports for the configured studies")
    synth.add_argument("out", help="landing folder to write")
    synth.add_argument("--seed", type=int, default=20261121)
    synth.add_argument("--subjects", type=int, default=24, help="subjects per study and site")
    synth.add_argument("--sites", type=int, default=1)
    synth.add_argument("--studies", default=None, help="folder of study files (default: studies/)")
    synth.set_defaults(func=cmd_synth)

    pull = sub.add_parser(
        "pull",
        help="copy new complete transfers from a drop zone (SFTP, S3, folder) into the landing",
        usage="trialdw pull (SOURCE | --sources FILE) LANDING [options]",
    )
    pull.add_argument(
        "paths",
        nargs="+",
        metavar="SOURCE LANDING",
        help="sftp://user@host[:port]/path, s3://bucket/prefix or file:///path",
    )
    pull.add_argument("--sources", default=None, help="sources file: pull every source it names (docs/operations.md)")
    pull.add_argument("--identity", default=None, help="SFTP: private key file (mode 0600)")
    pull.add_argument("--known-hosts", default=None, help="SFTP: known_hosts file (default ~/.ssh/known_hosts)")
    pull.add_argument("--endpoint-url", default=None, help="S3: endpoint of an S3-compatible store")
    pull.add_argument("--verify", action="store_true", help="re-read every already landed file to compare bytes (slow)")
    pull.set_defaults(func=cmd_pull)

    run = sub.add_parser("run", help="run the nightly flow once and publish the warehouse")
    run.add_argument("--landing", required=True, help="landing folder with site transfers")
    run.add_argument(
        "--warehouse", default=None, help="DuckDB file to publish (--engine spark: default DIR/_trialdw/trialdw.duckdb)"
    )
    _engine_arguments(run)
    run.add_argument("--sources", default=None, help="sources file: pull from the sites into --landing first")
    run.add_argument("--studies", default=None, help="folder of study files (default: studies/)")
    run.add_argument(
        "--readiness-contract", default=None, help="readiness expectations (default: data_contracts/readiness.yml)"
    )
    run.add_argument(
        "--notify-command",
        default=None,
        help="command run when the night fails or holds a study back (no shell; reason in TRIALDW_MESSAGE)",
    )
    run.set_defaults(func=cmd_run)

    from trialdw.ops.serve import DEFAULT_CRON, DEFAULT_NAME, DEFAULT_TIMEZONE

    serve = sub.add_parser("serve", help="serve the nightly deployment on a schedule (needs PREFECT_API_URL)")
    serve.add_argument("--landing", required=True, help="landing folder with site transfers")
    serve.add_argument("--warehouse", required=True, help="DuckDB file to publish")
    serve.add_argument("--sources", default=None, help="sources file: each night pulls from the sites first")
    _engine_arguments(serve)
    serve.add_argument("--studies", default=None, help="folder of study files (default: studies/)")
    serve.add_argument("--cron", default=DEFAULT_CRON, help=f"when to run (default '{DEFAULT_CRON}': 02:00)")
    serve.add_argument(
        "--timezone", default=DEFAULT_TIMEZONE, help=f"IANA time zone of the cron schedule (default {DEFAULT_TIMEZONE})"
    )
    serve.add_argument(
        "--name", default=DEFAULT_NAME, help=f"deployment name: trialdw-nightly/<name> (default {DEFAULT_NAME})"
    )
    serve.set_defaults(func=cmd_serve)

    sql = sub.add_parser("sql", help="query a warehouse file read-only")
    sql.add_argument("warehouse", help="DuckDB file (opened read-only)")
    sql.add_argument("query", help="SQL to run")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.add_argument("--max-rows", type=int, default=100)
    sql.set_defaults(func=cmd_sql)

    from trialdw.review_app.accounts import ROLES

    review = sub.add_parser("review", help="the data managers' review app")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    serve_app = review_sub.add_parser("serve", help="serve the review app over the published warehouse")
    serve_app.add_argument("--warehouse", required=True, help="the published DuckDB file (opened read-only)")
    serve_app.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve_app.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve_app.add_argument("--idle-minutes", type=float, default=30, help="a session ends after this idle time")
    serve_app.add_argument("--session-hours", type=float, default=8, help="a session ends this long after login")
    serve_app.set_defaults(func=cmd_review)

    users = sub.add_parser("users", help="accounts of the review app")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add an account (password from a prompt or --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    password = users_sub.add_parser("password", help="set a new password for an account")
    password.add_argument("name")
    disable = users_sub.add_parser("disable", help="disable an account (it cannot log in any more)")
    disable.add_argument("name")
    listing = users_sub.add_parser("list", help="list the accounts")
    for command in (add, password, disable, listing):
        command.add_argument("--warehouse", required=True, help="the published DuckDB file; accounts live beside it")
    for command in (add, password):
        command.add_argument(
            "--password-stdin", action="store_true", help="read the password from the first line of stdin"
        )
    users.set_defaults(func=cmd_users)
    return parser


# Prefect's background senders (run states, events, logs to the server) drain
# when the process exits, after the command's last line; under load one warns
# "Still processing items: N items remaining..." as it drains. That line would
# then be the last a user (or a script reading stderr) sees, instead of the
# command's outcome. Their errors still show.
_PREFECT_SENDERS = ("EventsWorker", "APILogWorker")


def main(argv: list[str] | None = None) -> int:
    apply_quiet_offline_env()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")
    finally:
        for name in _PREFECT_SENDERS:
            logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":  # python -m trialdw.cli
    sys.exit(main())
