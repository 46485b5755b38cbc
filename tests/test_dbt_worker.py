"""The night's dbt process (trialdw.dbt_worker): real child processes, a real
history store, real dbt builds.

1. A group built in the worker is the group built in this process: same
   studies, same tests passed, same tables; dbt's progress and the night's log
   lines come back as they happen.
2. An exception in the child is raised here, with its message.
3. Closing the worker ends the child cleanly (exit code 0: it released its
   semaphores, nothing for multiprocessing's tracker to warn of), also while
   the child is still importing dbt.
4. A child whose night is killed ends too: it never writes on into a build
   file the next night will use.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from trialdw.dbt_runner import DbtSession
from trialdw.dbt_worker import DbtWorker, current, started
from trialdw.ingest import ingest_landing
from trialdw.ingest.contracts import load_contracts
from trialdw.study_build import build_with_isolation
from trialdw.study_config import load_studies
from trialdw.synth import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dbt-worker")
    generate(root / "landing", seed=5, subjects=4)
    path = root / "history-store.duckdb"
    with duckdb.connect(str(path)) as con:
        ingest_landing(con, root / "landing", load_studies(), root / "work", "run", load_contracts())
    return path


def _tables(build_file: Path) -> dict[str, int]:
    with duckdb.connect(str(build_file), read_only=True) as con:
        names = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema = 'adam'"
        ).fetchall()
        return {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for (name,) in names}


def test_a_group_built_in_the_worker_is_the_group_built_here(history, tmp_path):
    studies, contracts = load_studies(), load_contracts()
    here = build_with_isolation(DbtSession(), history, tmp_path / "here", studies, contracts, log=print)
    progress, logged = [], []
    with started(tmp_path / "dbt-state") as worker:
        assert current() is worker
        there = worker.build_with_isolation(
            history, tmp_path / "there", studies, contracts, progress=lambda *p: progress.append(p), log=logged.append
        )
        page = worker.docs(there[0].build_file, tmp_path / "lineage")
    assert current() is None
    # The warm-up's dbt ls ran through to the graph, in its own folder beside dbt's state.
    assert (tmp_path / "dbt-state" / "warm-up" / "target" / "graph_summary.json").is_file()
    assert [(g.studies, g.dbt_ok, g.dbt_summary, g.rows) for g in there] == [
        (g.studies, g.dbt_ok, g.dbt_summary, g.rows) for g in here
    ]
    assert there[0].dbt_ok and "0 failed" in there[0].dbt_summary
    assert _tables(there[0].build_file) == _tables(here[0].build_file)
    assert _tables(here[0].build_file)["adam.adsl"] == 8  # 4 subjects in each of the 2 studies
    # One progress line per node, counted up to the total, in order.
    done = [p[0] for p in progress]
    assert done == list(range(1, len(progress) + 1)) and progress[-1][1] == len(progress)
    assert {p[3] for p in progress} <= {"success", "pass"}
    assert logged == []  # nothing failed: nothing to say
    assert page.name == "index.html" and '"model.trialdw.adsl"' in page.read_text(encoding="utf-8")


def test_an_error_in_the_child_is_raised_here(tmp_path):
    with started(tmp_path / "dbt-state") as worker:
        with pytest.raises(Exception, match="no-such-history"):
            worker.build_with_isolation(
                tmp_path / "no-such-history.duckdb", tmp_path / "build", load_studies(), load_contracts()
            )
        # The child goes on serving: the next request is answered.
        with pytest.raises(RuntimeError, match="dbt docs generate failed"):
            worker.docs(tmp_path / "missing" / "build.duckdb", tmp_path / "lineage")


@pytest.mark.parametrize("after", [0.2, 1.2, None], ids=["while-starting", "while-importing-dbt", "after-a-request"])
def test_closing_ends_the_child_cleanly(tmp_path, after):
    worker = DbtWorker.start(tmp_path / "dbt-state")
    if after is None:
        with pytest.raises(RuntimeError, match="dbt docs generate failed"):
            worker.docs(tmp_path / "missing" / "build.duckdb", tmp_path / "lineage")  # answered once it is ready
    else:
        time.sleep(after)
    started_at = time.monotonic()
    worker.close()
    assert worker._process.exitcode == 0, "ended by its SIGTERM handler, not killed"
    assert time.monotonic() - started_at < 1, "it did not wait for the warm-up"
    worker.close()  # a second close does nothing


def test_the_child_of_a_killed_night_ends(tmp_path):
    """A night's process starts a worker, says the child's pid, and is killed
    (SIGKILL: no exit handler runs). The child must not live on."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from trialdw.dbt_worker import DbtWorker
        if __name__ == "__main__":
            worker = DbtWorker.start(Path({str(tmp_path / "dbt-state")!r}))
            print(worker._process.pid, flush=True)
            time.sleep(600)
        """
    )
    (tmp_path / "night.py").write_text(script)
    night = subprocess.Popen([sys.executable, str(tmp_path / "night.py")], stdout=subprocess.PIPE, text=True)
    child = int(night.stdout.readline())
    assert _alive(child)
    night.send_signal(signal.SIGKILL)
    night.wait()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by init) counts as ended.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_request_takes_dbt_only_after_the_warm_up():
    """The worker's session hands dbt out once the warm-up thread has ended, so a
    request's own preparation overlaps the warm-up but dbt never runs twice at once."""
    from types import SimpleNamespace

    from trialdw.dbt_worker import _AfterWarmUp

    warm_up_may_end, enough = threading.Event(), threading.Event()
    warm_up = threading.Thread(target=warm_up_may_end.wait)
    warm_up.start()
    session = _AfterWarmUp(SimpleNamespace(build=lambda: "built"), warm_up, enough)
    got: list[str] = []
    request = threading.Thread(target=lambda: got.append(session.build()))
    request.start()
    request.join(0.3)
    assert request.is_alive() and got == []  # still waiting for the warm-up
    assert enough.is_set()  # its optional part is told to stop
    warm_up_may_end.set()
    request.join(10)
    assert got == ["built"]


def test_the_warm_up_compiles_every_macro_until_told_enough(tmp_path):
    """dbt's template cache holds every macro of the parsed project after
    compile_macro_templates (the project's own first); told enough beforehand,
    it compiles none."""
    from dbt_common.clients.jinja import template_cache

    from trialdw.dbt_runner import DbtSession, compile_macro_templates

    session = DbtSession(tmp_path / "dbt")
    manifest = session.manifest(tmp_path / "build.duckdb")
    enough = threading.Event()
    enough.set()
    assert compile_macro_templates(manifest, enough) == 0
    assert compile_macro_templates(manifest) == len(manifest.macros) > 500
    assert all(m.macro_sql in template_cache.file_cache for m in manifest.macros.values())
    ours = {m.name for m in manifest.macros.values() if m.package_name == "trialdw"}
    assert {"materialization_table_duckdb", "baseline_sample", "records_at_cutoff"} <= ours
    session.close()


def test_a_night_takes_over_the_worker_prestarted_for_its_warehouse(tmp_path):
    """``trialdw run`` starts the worker before the flow run (prestart); the night's
    ``started`` takes that very child over for the same dbt state, and ends it
    with the block. One started for another state is ended, not used; one no
    night took over is ended by discard_prestarted."""
    from trialdw import dbt_worker

    state = tmp_path / "dbt-state"
    dbt_worker.prestart(state)
    prestarted = dbt_worker._prestarted[1]
    with started(tmp_path / "." / "dbt-state") as worker:
        assert worker is prestarted and current() is worker
        assert dbt_worker._prestarted is None
    assert not prestarted.alive and not _alive(prestarted._process.pid)

    dbt_worker.prestart(tmp_path / "other-state")
    other = dbt_worker._prestarted[1]
    with started(state) as worker:
        assert worker is not other and worker.alive
        assert not other.alive and not _alive(other._process.pid)

    dbt_worker.prestart(state)
    unused = dbt_worker._prestarted[1]
    dbt_worker.discard_prestarted()
    assert dbt_worker._prestarted is None and not _alive(unused._process.pid)
    dbt_worker.discard_prestarted()  # nothing to end: does nothing
