"""trialdw.bench.run_ratios: each target's ratio is taken within its run, against
that run's own floor or first night, before the report's median."""

from __future__ import annotations

import pytest

from trialdw.bench import run_ratios


def _night(flow: float, ingest: float | None = None) -> dict:
    return {"flow": flow, "steps": {} if ingest is None else {"ingest": ingest}}


def test_each_ratio_is_taken_within_its_run():
    result = {
        "floors": [10.0, 20.0],
        "nights": {
            "first": [_night(45.0, ingest=18.0), _night(100.0, ingest=30.0)],
            "nothing new": [_night(0.9), _night(2.0)],
            "one site's new transfer": [_night(6.0), _night(12.5)],
        },
    }
    ratios = run_ratios(result)
    assert ratios["first night / floor"] == pytest.approx([4.5, 5.0])
    assert ratios["validate + load / floor"] == pytest.approx([1.8, 1.5])
    assert ratios["nothing new / first night"] == pytest.approx([0.02, 0.02])
    assert ratios["one site's new transfer / first night"] == pytest.approx([6.0 / 45.0, 0.125])
    # Not the ratio of medians: with the runs' floors 10 and 20 s, the pooled
    # figure (72.5 / 15 = 4.83) would pair run 1's night with run 2's floor.


def test_the_warm_up_imports_what_a_night_imports(tmp_path):
    """warm_page_cache imports every module a night's processes import (a module
    renamed or dropped fails here, not in the middle of a bench), in a process of
    its own, and returns its seconds."""
    import os

    from trialdw.bench import NIGHT_IMPORTS, warm_page_cache

    assert {"dbt.cli.main", "pandera.polars", "great_expectations", "lifelines", "flows.nightly"} <= set(NIGHT_IMPORTS)
    assert warm_page_cache(dict(os.environ)) > 0
