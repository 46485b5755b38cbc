"""The review app with 50,000 findings: the benchmark runs for real (warehouse, server process,
headless Chromium) and the test checks that paging works at that size. The figures are printed
(``pytest -s``), never asserted: a busy CI machine must not fail a functional test."""

from __future__ import annotations

import pytest

from tests.browser import chromium_path
from trialdw.review_app import bench

pytestmark = pytest.mark.slow


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_fifty_thousand_findings_are_served_page_by_page(tmp_path):
    figures = bench.run(50_000, out=tmp_path)
    # A fifth are resolved (closed by data); the page opens on the rest, 100 at a time.
    assert figures["total_not_closed"] == 40_000
    assert figures["rows_first_page"] == 100
    assert figures["browser_ms"]["rows rendered"] == 100
    assert figures["browser_ms"]["findings matching (not closed)"] == 40_000
    assert figures["browser_ms"]["time to first render (page's performance.now)"] > 0
