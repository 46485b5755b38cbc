"""dbt in a child process that gets ready while the night ingests.

Before dbt builds anything, a process pays ~2 s that depend on no data:
importing dbt (~1.5 s), loading the parsed project (trialdw.dbt_manifest_cache)
and dbt's first-invocation work (validating the project and profile against
JSON schemas built on first use, linking the graph). The night starts this
worker before its ingest, so that work runs on the second core while the
transfers load, and the night's dbt steps (``build_with_isolation``, the
lineage page) then run in it, ready.

1. The night's process spawns the child (``DbtWorker.start``): spawned, not
   forked (trialdw.parallel says why). ``trialdw run`` spawns it before Prefect
   creates the flow run (``prestart``; ~3 s of imports and API calls on a
   one-site night), and the night takes that child over (``started``).
2. The child imports dbt, loads the manifest and runs ``dbt ls`` once, quietly,
   into ``<dbt state>/warm-up``: no file of the night is touched. A build
   request that comes meanwhile prepares its build file (DuckDB, no dbt) at
   once and waits for the warm-up only before dbt runs (``_AfterWarmUp``):
   on a one-site night the request comes ~1 s before the warm-up ends.
3. Each request (``build``, ``docs``) goes down a pipe; the child sends back
   dbt's progress and the night's log lines as they happen, then the result
   (or the exception). The night's process logs them where the flow logs.
4. The child ends when the night closes the worker, or when the night's
   process is gone (its pipe closes; on Linux the kernel also kills it): an
   orphan never keeps writing a build file the next night will use.

The child builds into the night's build files only: the warehouse and the
history store keep one writer, the night's process (the build reads the
history store, closed by then).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from trialdw.parallel import exit_without_teardown

_PR_SET_PDEATHSIG = 1  # prctl(2)
# The warm-up's niceness: it yields the cores to the ingest it overlaps.
WARM_UP_NICENESS = 10


class DbtWorker:
    """A child process running the night's dbt (one DbtSession on ``state_dir``)."""

    def __init__(self, process, conn: Connection):
        self._process = process
        self._conn = conn
        self._lock = threading.Lock()  # one request at a time
        self.closed = False

    @classmethod
    def start(cls, state_dir: Path) -> DbtWorker:
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        process = context.Process(target=_serve, args=(str(state_dir), there), name="trialdw-dbt", daemon=True)
        process.start()
        there.close()  # the child's end: only the child holds it now, so its exit closes the pipe
        return cls(process, here)

    def build_with_isolation(
        self, history_path: Path, work_dir: Path, studies: dict, contracts: dict,
        progress: Callable[[int, int, str, str], None] | None = None, log: Callable[[str], None] = print,
        write_json: bool = True, carried_single_cell: bool = False,
    ) -> list:  # fmt: skip
        """trialdw.study_build.build_with_isolation, in the child (its GroupBuilds);
        ``write_json``: as DbtSession's."""
        args = (history_path, work_dir, studies, contracts, progress is not None, write_json, carried_single_cell)
        return self._request("build", args, progress, log)

    def docs(self, db_path: Path, out_dir: Path) -> Path:
        """DbtSession.docs (the lineage page) against ``db_path``, in the child."""
        return self._request("docs", (db_path, out_dir), None, print)

    def _request(self, kind: str, args: tuple, progress, log):
        with self._lock:
            try:
                self._conn.send((kind, args))
                while True:
                    what, payload = self._conn.recv()
                    if what == "progress" and progress is not None:
                        progress(*payload)
                    elif what == "log":
                        log(payload)
                    elif what == "result":
                        return payload
                    elif what == "error":
                        raise payload
            except (EOFError, OSError) as exc:
                code = self._process.exitcode if not self._process.is_alive() else None
                raise RuntimeError(f"the dbt worker process ended (exit code {code}) during {kind}") from exc

    @property
    def alive(self) -> bool:
        return not self.closed and self._process.is_alive()

    def close(self) -> None:
        """End the child, without waiting for imports it may still be doing: it
        holds nothing between requests (dbt has released the build file when a
        request returns). SIGTERM lets it release its semaphores (dbt's adapter
        locks) before it ends, so multiprocessing's tracker has nothing to warn of."""
        self.closed = True
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()


_current: DbtWorker | None = None


_prestarted: tuple[Path, DbtWorker] | None = None


def prestart(state_dir: Path) -> None:
    """Start the next night's worker now, for ``state_dir`` (the warehouse's dbt
    state): ``trialdw run`` calls this before Prefect starts the flow run, so the
    warm-up (~2.5 s) overlaps Prefect's start instead of the night. The night's
    ``started`` takes it over; one never taken (the night refused, or another
    warehouse) is ended by ``discard_prestarted``, and in any case when this
    process ends (step 4).

    A second ``trialdw run`` on the same warehouse, refused by its writer lock,
    may warm up in the same scratch folder meanwhile: its ``dbt ls`` writes only
    there, and the warm-up prepares, it never fails a night."""
    global _prestarted
    discard_prestarted()
    _prestarted = (Path(state_dir).resolve(), DbtWorker.start(state_dir))


def discard_prestarted() -> None:
    """End a worker ``prestart`` started and no night took over."""
    global _prestarted
    if _prestarted is not None:
        _prestarted[1].close()
        _prestarted = None


def _take_prestarted(state_dir: Path) -> DbtWorker | None:
    """The pre-started worker when it is for ``state_dir`` and still alive; any other ends."""
    global _prestarted
    if _prestarted is None:
        return None
    (for_dir, worker), _prestarted = _prestarted, None
    if for_dir == Path(state_dir).resolve() and worker.alive:
        return worker
    worker.close()
    return None


@contextlib.contextmanager
def started(state_dir: Path) -> Iterator[DbtWorker]:
    """A DbtWorker for the block (also ``current()`` within it): the one ``prestart``
    started for ``state_dir``, or a new one. The child ends with the block, or
    earlier with ``close()``."""
    global _current
    worker = _take_prestarted(state_dir) or DbtWorker.start(state_dir)
    _current = worker
    try:
        yield worker
    finally:
        _current = None
        worker.close()


def current() -> DbtWorker | None:
    """The night's dbt worker while it runs (None: run dbt in this process)."""
    return _current if _current is not None and not _current.closed else None


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when the one that started it ends
    (a night killed mid-build leaves no dbt writing on)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _warm_up_niced(session, enough: threading.Event) -> None:
    from trialdw.dbt_runner import warm_up

    if sys.platform.startswith("linux"):  # elsewhere niceness is the whole process's, builds included
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, 0, WARM_UP_NICENESS)  # 0: the calling thread on Linux
    # A project that does not parse fails the night's build, which says why; the
    # warm-up only prepares, so it stays silent here. Its scratch folder is a fixed
    # one beside dbt's state, reused: a night that ends the worker mid-warm-up
    # leaves no temporary folder behind.
    with contextlib.suppress(Exception):
        warm_up(session, session.state_dir / "warm-up", enough)


def _on_terminate(signum, frame) -> None:
    raise SystemExit(0)  # multiprocessing's exit then runs the finalizers that release semaphores


def _serve(state_dir: str, conn: Connection) -> None:
    """The child: get dbt ready (steps 1–2), then answer requests until the pipe closes."""
    _die_with_parent()
    signal.signal(signal.SIGTERM, _on_terminate)
    # After multiprocessing's own exit work, the interpreter's teardown (seconds
    # with dbt imported) is skipped, as in the night's other children.
    atexit.register(exit_without_teardown)
    from trialdw.dbt_runner import DbtSession
    from trialdw.study_build import build_with_isolation

    session = DbtSession(Path(state_dir))
    # Step 2 runs on a thread of lower priority (Linux: niceness is per thread), so the
    # ingest it overlaps keeps the cores first; the builds run on this thread, at the
    # priority the night has.
    # A daemon thread: a night that ends the worker mid-warm-up does not wait for it.
    enough = threading.Event()
    ready = threading.Thread(target=_warm_up_niced, args=(session, enough), name="trialdw-dbt-warm-up", daemon=True)
    ready.start()
    # A request may come before the warm-up ends (a small night's ingest is shorter):
    # its own preparation (the build file) runs meanwhile, dbt waits for the warm-up's
    # necessary part (the optional part, the macros' templates, stops when told).
    dbt = _AfterWarmUp(session, ready, enough)

    def send(message) -> None:
        try:
            conn.send(message)
        except OSError:  # the night's process is gone: nothing to build for
            os._exit(1)

    session.log = lambda message: send(("log", message))  # dbt's warnings and errors, to the night's log

    while True:
        try:
            kind, args = conn.recv()
        except (EOFError, OSError):  # the night's process is gone
            return
        try:
            if kind == "build":
                history_path, work_dir, studies, contracts, with_progress, session.write_json, carried = args
                progress = (lambda *p: send(("progress", p))) if with_progress else None
                groups = build_with_isolation(
                    dbt, history_path, work_dir, studies, contracts, progress, log=lambda m: send(("log", m)),
                    carried_single_cell=carried,
                )  # fmt: skip
                send(("result", groups))
            elif kind == "docs":
                send(("result", dbt.docs(*args)))
            else:
                send(("error", ValueError(f"unknown dbt worker request {kind!r}")))
        except Exception as exc:  # the night decides what a failed build means
            send(("error", _picklable(exc)))


class _AfterWarmUp:
    """The worker's DbtSession for requests: anything taken from it (``build``,
    ``docs``, ...) is handed out once the warm-up thread has ended, so dbt never
    runs twice at once in this process, while what a request does before it
    needs dbt (``prepare_build_file``: DuckDB, no dbt) overlaps the warm-up.
    Taking it sets ``enough``: the warm-up's optional last part ends early
    (trialdw.dbt_runner.compile_macro_templates) instead of making dbt wait."""

    def __init__(self, session, warm_up: threading.Thread, enough: threading.Event | None = None):
        self._session = session
        self._warm_up = warm_up
        self._enough = enough

    def __getattr__(self, name: str):
        if self._enough is not None:
            self._enough.set()
        self._warm_up.join()
        return getattr(self._session, name)


def _picklable(exc: Exception) -> Exception:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
