"""Study-by-study work spread over this machine's cores.

The night's Python-bound steps (study report pages with matplotlib, Dataset-JSON
and XPT encoding) hold the GIL, so threads would not use a second core: the
studies are dealt out to child processes, one per extra core, while this
process does its own share.

Children are *spawned*, not forked: the night's process runs threads (Prefect's,
DuckDB's), and a forked child can inherit a lock another thread held and hang.
A spawned child starts clean and pays for its imports (~1-2 s), so small nights
stay in one process (``MIN_ITEMS``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many studies the work stays in this process: a child's start-up and
# imports cost about what it would save (the demo's two studies: ~1.3 s each way).
MIN_ITEMS = 3


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def map_shares(fn: Callable[..., R], items: list[T], *args, min_items: int | None = None) -> list[R]:
    """``fn(share, *args)`` for each share of ``items``, at the same time.

    Items are dealt round-robin into one share per core (so studies of different
    sizes mix); the first share runs in this process, each other one in a spawned
    child. Results come back in share order; an exception in any share is raised
    here once every share has ended. With fewer than ``min_items`` items
    (default ``MIN_ITEMS``) or one core: ``[fn(items, *args)]`` in this process.
    ``fn`` and ``args`` must be picklable (a module-level function)."""
    shares = min(cores(), len(items))
    if shares < 2 or len(items) < (MIN_ITEMS if min_items is None else min_items):
        return [fn(items, *args)]
    dealt = [items[i::shares] for i in range(shares)]
    with ProcessPoolExecutor(max_workers=shares - 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        children = [pool.submit(fn, share, *args) for share in dealt[1:]]
        here = fn(dealt[0], *args)
        return [here, *(child.result() for child in children)]
