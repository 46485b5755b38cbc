"""What the night writes for data managers into the reports folder: ``review.html`` (self-contained,
opens from disk), ``findings.csv`` and ``findings.xlsx``, from the warehouse about to be published."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from trialdw.review_app.changes import Changes, changes_since_last_run
from trialdw.review_app.csvout import write_findings_csv
from trialdw.review_app.data import read_review_data
from trialdw.review_app.render import render_page
from trialdw.review_app.summary import Counts, count_findings, markdown_summary
from trialdw.review_app.xlsxout import write_findings_xlsx

__all__ = ["ReviewPageSummary", "write_review_page"]


@dataclass(frozen=True)
class ReviewPageSummary:
    html_path: Path
    csv_path: Path
    xlsx_path: Path
    counts: Counts
    basis: str  # what "since last run" was measured against
    latest_run: str | None
    markdown: str  # a few lines for the Prefect run artifact


def write_review_page(
    db_path: Path,
    out_dir: Path,
    *,
    data_docs: str | None = "data-docs/index.html",
    previous_db: Path | None = None,
    run_id: str | None = None,
    warehouse_name: str | None = None,
) -> ReviewPageSummary:
    """Write ``review.html``, ``findings.csv`` and ``findings.xlsx`` into ``out_dir`` from the warehouse at ``db_path``.

    ``data_docs``: link to the readiness results, relative to ``out_dir``
    (None: no link). ``previous_db``: the warehouse published by the previous night,
    to tell what is new/resolved since then; ``run_id``: this run, for when no previous
    file is given (see ``trialdw.review_app.changes`` for the rule). ``warehouse_name``:
    the name shown in the header (the flow builds into a private file that is published
    under another name); default ``db_path``'s name. Query states come from the
    warehouse's own state columns (``trialdw.review_app.state_sync``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db_path), read_only=True) as con:
        changes: Changes = changes_since_last_run(con, previous_db, run_id)
        data = read_review_data(con, changes)
    counts = count_findings(data.findings)
    html_path = out_dir / "review.html"
    html_path.write_text(
        render_page(data, counts, warehouse_name=warehouse_name or Path(db_path).name, data_docs=data_docs),
        encoding="utf-8",
    )
    csv_path = write_findings_csv(data.findings, out_dir / "findings.csv")
    xlsx_path = write_findings_xlsx(data.findings, data.rules, out_dir / "findings.xlsx")
    markdown = markdown_summary(data.findings, data.transfers, counts, changes.basis)
    return ReviewPageSummary(html_path, csv_path, xlsx_path, counts, changes.basis, changes.latest_run, markdown)
