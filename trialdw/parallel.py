"""Study-by-study work spread over this machine's cores.

The night's Python-bound steps (endpoint statistics with lifelines and pandas,
readiness checks with Great Expectations, study pages with matplotlib,
Dataset-JSON and XPT encoding) hold the GIL, so threads would not use a second
core: the work goes to child processes, one per extra core.

Children are *spawned*, not forked: the night's process runs threads (Prefect's,
DuckDB's), and a forked child can inherit a lock another thread held and hang.
A spawned child starts clean and pays for its imports (GX alone ~2.8 s). So the
night starts its children when it knows it will build (``warm_workers``): they
import the later steps' libraries on the second core while this process runs
dbt, and are ready when the endpoints need them. Without warm children (a
library call outside a night), ``map_shares`` spawns its own, and only for
``MIN_ITEMS`` studies or more, where that pays.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many studies, without warm children, the work stays in this
# process: a cold child's start-up and imports cost about what it would save.
MIN_ITEMS = 3
# What the steps after the dbt build import (trialdw.readiness.import_gx: GX
# with its usage statistics off).
LATER_STEPS = ("trialdw.endpoints", "lifelines", "trialdw.report", "matplotlib.pyplot", "trialdw.exports")
_warm: ProcessPoolExecutor | None = None
_threads: dict[str, tuple[int, ThreadPoolExecutor]] = {}  # name -> (pid, pool)


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def thread_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """This process's thread pool ``name`` (threads ``trialdw-<name>``), made on
    first use and kept: work that releases the GIL (file reads and hashing,
    Parquet encoding) overlaps this process's own. A child made by fork makes
    its own: the parent's threads do not exist in it."""
    held = _threads.get(name)
    if held is None or held[0] != os.getpid():
        held = _threads[name] = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix=f"trialdw-{name}"))
    return held[1]


def _spawned_pool(workers: int, preload: tuple[str, ...] = ()) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_import, initargs=(preload,))


def _import(modules: tuple[str, ...]) -> None:
    """A child's start: it skips Python's teardown at exit, then imports ``modules``."""
    atexit.register(exit_without_teardown)
    # GX probes for Spark Connect, whose package calls sys.exit(0) on import when
    # the main module has no file (its doctest guard); a child spawned by
    # `python -m pytest` or `python -m <pkg>` has such a main. Children never use
    # Spark Connect (the Spark engine runs in the night's own process), so it is
    # marked absent here and GX carries on without it, as it does when pyspark
    # is not installed.
    sys.modules.setdefault("pyspark.sql.connect", None)
    for name in modules:
        importlib.import_module(name)
    if modules:
        from trialdw.readiness import import_gx

        import_gx()


def exit_without_teardown() -> None:
    """A child's exit handler, registered as it starts: end the process now.

    Exit handlers run last-registered first, so those of the libraries the
    steps import still run before this one; those registered before it are
    skipped (logging's shutdown, and multiprocessing's, which the process
    bootstrap has already run). Tearing down a child that imported GX, lifelines
    and matplotlib (collecting and freeing every module) takes ~0.8 s, and the
    night waits for its children to end before the assemble. A child has
    nothing Python's teardown would finish: its steps close their files and
    return their results before the pool's shutdown reaches it; what it
    printed is flushed here."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):  # closed or replaced
            stream.flush()
    os._exit(0)


def _ready() -> int:
    return os.getpid()


@contextmanager
def warm_workers(preload: tuple[str, ...] = LATER_STEPS) -> Iterator[None]:
    """Within the block, one child process per extra core, started now and
    importing ``preload`` (and GX) meanwhile; ``map_shares`` and
    ``in_worker`` use them. One core: nothing is started."""
    global _warm
    if cores() < 2 or _warm is not None:
        yield
        return
    pool = _spawned_pool(cores() - 1, preload)
    for _ in range(cores() - 1):
        pool.submit(_ready)  # each submit with no idle worker starts one now
    _warm = pool
    try:
        yield
    finally:
        _warm = None
        pool.shutdown(wait=True, cancel_futures=True)


def in_worker(fn: Callable[..., R], *args, **kwargs) -> R:
    """``fn(*args, **kwargs)`` in a warm child when there is one (its imports are
    done), else here. ``fn`` and its arguments must be picklable."""
    if _warm is None:
        return fn(*args, **kwargs)
    return _warm.submit(fn, *args, **kwargs).result()


def map_shares(
    fn: Callable[..., R], items: list[T], *args, min_items: int | None = None, size: Callable[[T], int] | None = None
) -> list[R]:
    """``fn(share, *args)`` over ``items``, on every core at the same time.

    This process and one child per extra core (a warm one when the night
    started them, else spawned now) each take one item at a time, ``fn([item],
    *args)``, and the next as soon as they are done: studies differ in size (a
    single-cell study's pages take three times a small one's), and a fixed
    deal left one core idle while the other finished the big ones. The first
    round is fixed: item 0 here, item k in child k. With ``size`` (an item's,
    e.g. its rows; called here) the largest start first, so no big one is left
    for last, and the children take the first round's largest (their imports
    are done; this process may still have to import), this process the next.
    Results come back one per item, in the items' order. After an exception in
    any call no new item is started; it is raised here once every call under
    way has ended. With fewer than ``min_items`` items (default: 2 with warm
    children, ``MIN_ITEMS`` without) or one core: ``[fn(items, *args)]``, in a
    warm child when there is one, else here. ``fn`` and ``args`` must be
    picklable (a module-level function)."""
    if min_items is None:
        min_items = 2 if _warm is not None else MIN_ITEMS
    workers = min(cores(), len(items))
    if workers < 2 or len(items) < min_items:
        if _warm is not None and items:  # a warm child has the libraries imported; this process may not
            return [in_worker(fn, items, *args)]
        return [fn(items, *args)]
    order = list(range(len(items)))
    if size is not None:
        order.sort(key=lambda i: -size(items[i]))  # stable: equal sizes keep their order
        order.insert(0, order.pop(workers - 1))  # this process's first: the first round's smallest
    if _warm is not None:
        return _run_items(_warm, fn, items, order, workers, args)
    with _spawned_pool(workers - 1) as pool:
        return _run_items(pool, fn, items, order, workers, args)


def _run_items(pool: ProcessPoolExecutor, fn, items: list, order: list[int], workers: int, args: tuple) -> list:
    """``fn([item], *args)`` for every item, taken in ``order`` (indices): here,
    and on ``workers - 1`` children through ``pool``, each fed by a thread of
    this process that waits for its child's result (a thread waiting on a pipe
    does not hold the GIL)."""
    import threading
    from collections import deque

    results: list = [None] * len(items)
    failures: list[BaseException] = []
    waiting = deque(order[workers:])
    lock = threading.Lock()

    def take() -> int | None:
        with lock:
            return waiting.popleft() if waiting and not failures else None

    def run(index: int | None, call) -> None:
        while index is not None:
            try:
                results[index] = call(index)
            except BaseException as exc:  # raised in this process once every call has ended
                with lock:
                    failures.append(exc)
                return
            index = take()

    def in_child(index: int):
        return pool.submit(fn, [items[index]], *args).result()

    feeders = [threading.Thread(target=run, args=(order[k], in_child), daemon=True) for k in range(1, workers)]
    for feeder in feeders:
        feeder.start()
    try:
        run(order[0], lambda index: fn([items[index]], *args))
    finally:
        for feeder in feeders:
            feeder.join()
    if failures:
        raise failures[0]
    return results
