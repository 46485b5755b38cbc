"""The readiness results as a page a person can open from disk: ``data-docs/index.html``.

Great Expectations' own Data Docs load bootstrap, jQuery and bootstrap-table from
CDNs: opened from a file share without network, the index is blank (its table of
results is drawn by a CDN script) and the other pages are unstyled. So the night
renders the checkpoint results into this page instead: one file, its style inline
(allowed by hash in its Content-Security-Policy), no script, no network. It names
the run (the nightly's run id) and each data asset (``adam.adsl``), lists every
check with its rule, why it exists, and for a failure how many rows and which
(the first 20 GX kept), and links GX's own pages for whoever has the network.
"""

from __future__ import annotations

import datetime as dt

from trialdw.review_app.templating import csp_hash, inline, render


def render_readiness_page(
    *,
    run_name: str,
    contract: str,
    failures: list[str],
    tables: list[dict],
    gx_index: str | None,
    generated_at: dt.datetime | None = None,
) -> str:
    css = inline("review.css")
    return render(
        "readiness.html",
        csp=f"default-src 'none'; style-src {csp_hash(css)}; img-src 'none'; base-uri 'none'; form-action 'none'",
        inline_css=css,
        run_name=run_name,
        contract=contract,
        generated=(generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        failures=failures,
        tables=tables,
        checks=sum(len(t["checks"]) for t in tables),
        failed=sum(t["failed"] for t in tables),
        gx_index=gx_index,
    )
