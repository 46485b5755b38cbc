"""The data managers' review: the static page (``review.html``), the query spreadsheets
(``findings.csv``, ``findings.xlsx``) and the served review app with accounts, query
states and their audit trail (``trialdw review serve``).

Written into the run's reports folder beside the readiness results; see
docs/data-managers.md for what the pages show and how to work with them.

``write_review_page`` is loaded on first use: the CLI's ``users`` commands import this
package for the accounts only and should not pay for DuckDB, xlsxwriter and Jinja2.
"""

from __future__ import annotations

__all__ = ["ReviewPageSummary", "write_review_page"]


def __getattr__(name: str):
    if name in __all__:
        from trialdw.review_app import static_page

        return getattr(static_page, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
