"""review.html: server-side rendered from Jinja2 templates, every value autoescaped, filters in plain JS.

Why server-side escaped HTML rather than JSON + client-side templating: every
site value reaches the page through Jinja2's autoescape, the page is complete
and readable without JavaScript (a file share, a locked-down browser, a
print-out), and the script never turns data into markup. As a second line of
defence the page carries a Content-Security-Policy that allows only its own
inline script and style (by sha256) and no network at all, so even a value
that escaped escaping could neither run nor phone home.

This module only shapes the data for the templates (templates/review.html and
the sections it shares with the served app, templates/_sections.html).
"""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from trialdw.review_app.changes import NEW, RESOLVED
from trialdw.review_app.data import NO_DOMAIN, SEVERITY_ORDER, ReviewData
from trialdw.review_app.states import LABELS, STATES
from trialdw.review_app.summary import Counts, count_findings, site_key, site_label
from trialdw.review_app.templating import csp_hash, inline, render

FINDING_COLUMNS = (  # (heading, field) of a finding row in the page
    ("Status", "STATUS"),
    ("State", "STATE"),
    ("Subject", "USUBJID"),
    ("Record key", "RECORD_KEY"),
    ("File", "SOURCE_FILE"),
    ("Line", "SOURCE_LINE"),
    ("Visit", "VISIT"),
    ("Column", "COLUMN_NAME"),
    ("Value", "VALUE"),
    ("Message", "MESSAGE"),
    ("Severity", "SEVERITY"),
    ("First seen", "FIRST_SEEN_TRANSFER"),
    ("Last seen", "LAST_SEEN_TRANSFER"),
    ("Resolved in", "RESOLVED_TRANSFER"),
)
CELL_CSS = {"SOURCE_LINE": "num", "VALUE": "value", "MESSAGE": "message"}
STATIC_CSS, STATIC_JS = "review.css", "review-filters.js"


def count_cards(counts: Counts) -> list[dict]:
    return [
        {"key": key, "css": css, "label": label, "value": value}
        for key, css, label, value in (
            ("open-reject", "reject", "Open · reject (row quarantined)", counts.open_reject),
            ("open-warning", "warning", "Open · warning (row loaded)", counts.open_warning),
            ("new", "new", "New since last run", counts.new),
            ("resolved-since", "resolved", "Resolved since last run", counts.resolved_since),
            ("resolved-total", "", "Resolved, all time", counts.resolved_total),
        )
    ]


def site_rows(data: ReviewData) -> list[dict]:
    current = {site_key(t): t["TRANSFER_ID"] for t in data.transfers if t["CURRENT"] == "Y"}
    rows = []
    for key in sorted({site_key(t) for t in data.transfers} | {site_key(f) for f in data.findings}):
        c = count_findings([f for f in data.findings if site_key(f) == key])
        study, site = key.split("/", 1)
        rows.append(
            {
                "key": key,
                "study": study,
                "site": site,
                "current": current.get(key, "none accepted"),
                "open_reject": c.open_reject,
                "open_warning": c.open_warning,
                "new": c.new,
                "resolved_since": c.resolved_since,
            }
        )
    return rows


def reconciliation_view(rows: list[dict]) -> dict:
    """Collapsed when every row adds up (the normal case: it is the proof, not news)."""
    shaped = [{**r, "adds_up": r["ROWS_LOADED"] + r["ROWS_QUARANTINED"] == r["ROWS_SENT"]} for r in rows]
    mismatches = sum(not r["adds_up"] for r in shaped)
    verdict = (
        f"{mismatches} of {len(shaped)} transfer × domain rows do NOT add up"
        if mismatches
        else f"all {len(shaped)} transfer × domain rows add up: loaded + quarantined = sent"
    )
    return {"rows": shaped, "mismatches": mismatches, "verdict": verdict}


def _finding_view(f: dict) -> dict:
    cells = []
    for _, field in FINDING_COLUMNS:
        cell = {"css": CELL_CSS.get(field, ""), "value": f.get(field), "badge": "", "state": None, "reason": None}
        if field == "SEVERITY":
            cell["css"] = f"sev-{f['SEVERITY']}"
        if field == "STATUS":
            cell["badge"] = f["CHANGE"]
        if field == "STATE":
            cell["state"], cell["reason"] = f.get("STATE") or "new", f.get("STATE_REASON")
        cells.append(cell)
    return {
        "id": f["FINDING_ID"],
        "site": site_key(f),
        "domain": f["DOMAIN"] or NO_DOMAIN,
        "severity": f["SEVERITY"],
        "status": f["STATUS"],
        "change": f["CHANGE"],
        "state": f.get("STATE") or "new",
        "cells": cells,
    }


def finding_groups(findings: list[dict]) -> list[dict]:
    """Site -> domain -> rule, in the order read_review_data sorted them."""
    sites = []
    for key, site_findings in groupby(findings, key=site_key):
        domains = []
        for domain, domain_findings in groupby(site_findings, key=lambda f: f["DOMAIN"] or NO_DOMAIN):
            rules = [
                {"label": rule, "rows": [_finding_view(f) for f in rows]}
                for rule, rows in groupby(domain_findings, key=lambda f: f["RULE"])
            ]
            domains.append({"label": domain, "rules": rules})
        sites.append({"label": site_label(key), "domains": domains})
    return sites


def filters(findings: list[dict]) -> list[dict]:
    sites = sorted({site_key(f) for f in findings})
    domains = sorted({f["DOMAIN"] or NO_DOMAIN for f in findings})
    severities = [s for s in SEVERITY_ORDER if any(f["SEVERITY"] == s for f in findings)]
    severities += sorted({f["SEVERITY"] for f in findings} - set(severities) - {None})

    def select(name: str, label: str, options: list[tuple[str, str]], selected: str = "") -> dict:
        return {"name": name, "label": label, "selected": selected, "options": options}

    return [
        select("site", "Site", [("", "all sites")] + [(s, site_label(s)) for s in sites]),
        select("domain", "Domain", [("", "all domains")] + [(d, d) for d in domains]),
        select("severity", "Severity", [("", "all")] + [(s, s) for s in severities]),
        select("status", "Status", [("", "all"), ("open", "open"), ("resolved", "resolved")], "open"),
        select("state", "State", [("", "all")] + [(s, LABELS[s]) for s in STATES]),
        select("change", "Since last run", [("", "any"), (NEW, "new"), (RESOLVED, "resolved")]),
    ]


def pulls_view(pulls: list[dict]) -> dict:
    """The newest pull's outcomes: counts, the ones to read, the skipped ones (the usual case) apart."""
    from trialdw.pull.outcomes import OUTCOMES as PULL_OUTCOMES

    counts = {name: sum(1 for p in pulls if p["OUTCOME"] == name) for name in PULL_OUTCOMES}
    return {
        "rows": pulls,
        "run": pulls[0]["RUN_ID"] if pulls else None,
        "summary": ", ".join(f"{n} {name}" for name, n in counts.items()),
        "news": [p for p in pulls if p["OUTCOME"] != "skipped"],
        "skipped": [p for p in pulls if p["OUTCOME"] == "skipped"],
    }


def render_page(
    data: ReviewData,
    counts: Counts,
    *,
    warehouse_name: str,
    data_docs: str | None,
    generated_at: dt.datetime | None = None,
) -> str:
    generated = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    css, js = inline(STATIC_CSS), inline(STATIC_JS)
    csp = (
        f"default-src 'none'; script-src {csp_hash(js)}; style-src {csp_hash(css)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return render(
        "review.html",
        csp=csp,
        inline_css=css,
        inline_js=js,
        warehouse_name=warehouse_name,
        generated=generated,
        latest_run=data.changes.latest_run,
        basis=data.changes.basis,
        cards=count_cards(counts),
        data_docs=data_docs,
        sites=site_rows(data),
        transfers=data.transfers,
        pulls=pulls_view(data.pulls),
        recon=reconciliation_view(data.reconciliation),
        rules=data.rules,
        filters=filters(data.findings),
        total=len(data.findings),
        headings=[h for h, _ in FINDING_COLUMNS],
        groups=finding_groups(data.findings),
    )
