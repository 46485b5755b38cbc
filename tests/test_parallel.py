"""trialdw.parallel.map_shares with real spawned child processes."""

from __future__ import annotations

import os
import time

import pytest

from trialdw import parallel


def pid_and_share(share: list[int], offset: int) -> tuple[int, list[int]]:
    return os.getpid(), [item + offset for item in share]


def fail_on_seven(share: list[int]) -> list[int]:
    if 7 in share:
        raise ValueError("seven is not welcome")
    return share


def slow_pid_and_share(share: list[int], offset: int) -> tuple[int, list[int]]:
    """0.3 s an item: long enough for every child to take some."""
    time.sleep(0.3)
    return os.getpid(), [item + offset for item in share]


def test_items_are_taken_one_at_a_time_and_the_first_stays_here():
    if parallel.cores() < 2:
        pytest.skip("one core: everything runs in this process")
    results = parallel.map_shares(slow_pid_and_share, list(range(7)), 100)
    workers = min(parallel.cores(), 7)
    assert [share for _, share in results] == [[100 + i] for i in range(7)]  # one call per item, in order
    pids = [pid for pid, _ in results]
    assert pids[0] == os.getpid()  # the first round is fixed: item 0 here, item k in child k
    assert all(pid != os.getpid() for pid in pids[1:workers])
    assert len(set(pids)) == workers


def long_or_short(share: list[int]) -> int:
    """Item 1 takes 3 s, every other one 0.1 s."""
    time.sleep(3.0 if share == [1] else 0.1)
    return os.getpid()


def test_whoever_is_free_takes_the_next_item():
    """Item 1 (long) goes to a child in the first round; meanwhile this process
    takes every short item after it, instead of leaving half of them to the
    busy child as a fixed deal would."""
    if parallel.cores() != 2:
        pytest.skip("the placement below is for one child")
    pids = parallel.map_shares(long_or_short, list(range(6)))
    assert pids[1] != os.getpid()
    assert [pid == os.getpid() for pid in pids] == [True, False, True, True, True, True]


def test_the_largest_items_start_first():
    if parallel.cores() != 2:
        pytest.skip("the placement below is for one child")
    results = parallel.map_shares(slow_pid_and_share, [1, 2, 3], 0, size=lambda item: item)
    assert [share for _, share in results] == [[1], [2], [3]]  # results in the items' order
    pids = [pid for pid, _ in results]
    # 3 to the child (its imports are done), 2 here, then 1 to whoever is free: here, 0.3 s later.
    assert pids == [os.getpid(), os.getpid(), pids[2]] and pids[2] != os.getpid()


def test_few_items_stay_in_this_process():
    assert parallel.map_shares(pid_and_share, [1, 2], 0) == [(os.getpid(), [1, 2])]
    assert parallel.map_shares(pid_and_share, [], 0) == [(os.getpid(), [])]


def test_an_error_in_a_child_is_raised_here():
    if parallel.cores() < 2:
        pytest.skip("one core: everything runs in this process")
    # 7 is item 1: a child's in the first round.
    with pytest.raises(ValueError, match="seven is not welcome"):
        parallel.map_shares(fail_on_seven, [0, 7, 1, 2])


def loaded(modules: list[str]) -> dict[str, bool]:
    import sys

    return {name: name in sys.modules for name in modules}


def test_warm_workers_import_the_later_steps_and_serve_every_share_of_the_block():
    if parallel.cores() < 2:
        pytest.skip("one core: no child is started")
    with parallel.warm_workers():
        child = parallel.in_worker(os.getpid)
        assert child != os.getpid()
        # Imported by the child's start-up, before any step asked for them.
        assert parallel.in_worker(loaded, ["great_expectations", "matplotlib.pyplot", "lifelines"]) == {
            "great_expectations": True,
            "matplotlib.pyplot": True,
            "lifelines": True,
        }
        # Two studies are enough with warm children: the second share runs in one of them.
        first = parallel.map_shares(pid_and_share, [1, 2], 0)
        assert first[0] == (os.getpid(), [1]) and first[1][1] == [2] and first[1][0] != os.getpid()
        if parallel.cores() == 2:  # one warm child: the same one serves every call
            assert first[1][0] == child
        # One study goes to a warm child whole: its libraries are imported there.
        assert parallel.map_shares(pid_and_share, [7], 0)[0][0] != os.getpid()
    # After the block: no child; everything runs here again.
    assert parallel.in_worker(os.getpid) == os.getpid()
    assert parallel.map_shares(pid_and_share, [1, 2], 0) == [(os.getpid(), [1, 2])]


def leave_a_note_at_exit(share: list[str]) -> int:
    """In a child: registers an exit handler, as a library a step imports would."""
    import atexit
    import multiprocessing
    from pathlib import Path

    if multiprocessing.parent_process() is not None:
        atexit.register(Path(share[0]).write_text, "handler ran", encoding="utf-8")
    return os.getpid()


def test_a_child_ends_without_teardown_after_every_other_exit_handler(tmp_path):
    """Children skip Python's teardown (parallel.exit_without_teardown, ~0.8 s
    with GX loaded), but only after the exit handlers registered later have
    run. ``min_items=1`` with two items: one share here, one in a spawned child."""
    if parallel.cores() < 2:
        pytest.skip("one core: no child is started")
    note = tmp_path / "note.txt"
    pids = parallel.map_shares(leave_a_note_at_exit, [str(tmp_path / "unused.txt"), str(note)], min_items=1)
    assert pids[0] == os.getpid() and pids[1] != os.getpid()
    assert note.read_text(encoding="utf-8") == "handler ran"  # the pool has shut down: the child has exited
