"""review.html: server-side rendered, every value escaped, filters in plain JS.

Why server-side escaped HTML rather than JSON + client-side templating: every
site value passes through one function (``esc``) on its way into the page, the
page is complete and readable without JavaScript (a file share, a locked-down
browser, a print-out), and the script never turns data into markup. As a
second line of defence the page carries a Content-Security-Policy that allows
only its own inline script and style (by sha256) and no network at all, so
even a value that escaped escaping could neither run nor phone home.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
from collections.abc import Iterable
from itertools import groupby

from trialdw.review_app.assets import CSS, JS
from trialdw.review_app.changes import NEW, RESOLVED
from trialdw.review_app.data import NO_DOMAIN, SEVERITY_ORDER, ReviewData
from trialdw.review_app.summary import Counts, count_findings, site_key, site_label

FINDING_COLUMNS = (  # (heading, field) of a finding row in the page
    ("Status", "STATUS"),
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


def esc(value) -> str:
    """The one way a value reaches the page: as text, quotes escaped too (safe in attributes)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _table(headings: Iterable[str], rows: Iterable[str], attrs: str) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _counts(counts: Counts) -> str:
    cards = [
        ("open-reject", "reject", "Open · reject (row quarantined)", counts.open_reject),
        ("open-warning", "warning", "Open · warning (row loaded)", counts.open_warning),
        ("new", "new", "New since last run", counts.new),
        ("resolved-since", "resolved", "Resolved since last run", counts.resolved_since),
        ("resolved-total", "", "Resolved, all time", counts.resolved_total),
    ]
    return (
        '<dl class="counts">'
        + "".join(
            f'<div class="count {css}" data-count="{key}"><dt>{esc(label)}</dt><dd>{value}</dd></div>'
            for key, css, label, value in cards
        )
        + "</dl>"
    )


def _site_table(data: ReviewData) -> str:
    current = {site_key(t): t["TRANSFER_ID"] for t in data.transfers if t["CURRENT"] == "Y"}
    sites = sorted({site_key(t) for t in data.transfers} | {site_key(f) for f in data.findings})
    rows = []
    for key in sites:
        c = count_findings([f for f in data.findings if site_key(f) == key])
        study, site = key.split("/", 1)
        rows.append(
            f'<tr data-site="{esc(key)}"><td>{esc(study)}</td><td>{esc(site)}</td>'
            f"<td>{esc(current.get(key, 'none accepted'))}</td>"
            f'<td class="num">{c.open_reject}</td><td class="num">{c.open_warning}</td>'
            f'<td class="num">{c.new}</td><td class="num">{c.resolved_since}</td></tr>'
        )
    return _table(
        ["Study", "Site", "Current transfer", "Open reject", "Open warning", "New", "Resolved since last run"],
        rows,
        'id="sites"',
    )


def _seconds(when):
    return when.strftime("%Y-%m-%d %H:%M:%S") if isinstance(when, dt.datetime) else when


def _transfers(data: ReviewData) -> str:
    latest = data.changes.latest_run
    rows = [
        f'<tr class="status-{esc(t["STATUS"])}"><td>{esc(t["STUDYID"])}</td><td>{esc(t["SITEID"])}</td>'
        f"<td>{esc(t['TRANSFER_ID'])}</td><td>{esc(t['STATUS'])}</td><td>{esc(t['CURRENT'])}</td>"
        f'<td class="message">{esc(t["REASON"])}</td><td>{esc(_seconds(t["RECEIVED_AT"]))}</td>'
        f"<td>{esc(t['RUN_ID'])}{' (latest)' if latest and t['RUN_ID'] == latest else ''}</td></tr>"
        for t in data.transfers
    ]
    return _table(
        ["Study", "Site", "Transfer", "Status", "Current", "Reason", "Received", "Processed by run"],
        rows,
        'id="transfers"',
    )


def _reconciliation(data: ReviewData) -> str:
    """Collapsed when every row adds up (the normal case: it is the proof, not news)."""
    rows, mismatches = [], 0
    for r in data.reconciliation:
        adds_up = r["ROWS_LOADED"] + r["ROWS_QUARANTINED"] == r["ROWS_SENT"]
        mismatches += not adds_up
        rows.append(
            f"<tr><td>{esc(r['STUDYID'])}</td><td>{esc(r['SITEID'])}</td><td>{esc(r['TRANSFER_ID'])}</td>"
            f'<td>{esc(r["DOMAIN"])}</td><td class="num">{r["ROWS_SENT"]}</td>'
            f'<td class="num">{r["ROWS_LOADED"]}</td><td class="num">{r["ROWS_QUARANTINED"]}</td>'
            + ("<td>ok</td>" if adds_up else '<td class="mismatch">MISMATCH</td>')
            + "</tr>"
        )
    verdict = (
        f"{mismatches} of {len(rows)} transfer × domain rows do NOT add up"
        if mismatches
        else f"all {len(rows)} transfer × domain rows add up: loaded + quarantined = sent"
    )
    table = _table(
        ["Study", "Site", "Transfer", "Domain", "Sent", "Loaded", "Quarantined", "Loaded + quarantined = sent"],
        rows,
        'id="reconciliation"',
    )
    return (
        f'<details id="reconciliation-section"{" open" if mismatches else ""}>'
        f'<summary id="reconciliation-verdict">{esc(verdict)}</summary>{table}</details>'
    )


def _finding_row(f: dict) -> str:
    attrs = (
        f'data-id="{esc(f["FINDING_ID"])}" data-site="{esc(site_key(f))}" '
        f'data-domain="{esc(f["DOMAIN"] or NO_DOMAIN)}" data-severity="{esc(f["SEVERITY"])}" '
        f'data-status="{esc(f["STATUS"])}" data-change="{esc(f["CHANGE"])}"'
    )
    cells = []
    for _, field in FINDING_COLUMNS:
        value = esc(f[field])
        if field == "STATUS" and f["CHANGE"]:
            value += f' <span class="badge {esc(f["CHANGE"])}">{esc(f["CHANGE"])}</span>'
        css = {
            "SOURCE_LINE": "num",
            "VALUE": "value",
            "MESSAGE": "message",
            "SEVERITY": f"sev-{esc(f['SEVERITY'])}",
        }.get(field, "")
        cells.append(f'<td class="{css}">{value}</td>' if css else f"<td>{value}</td>")
    return f'<tr class="finding" {attrs}>{"".join(cells)}</tr>'


def _group(css: str, label: str, inner: str) -> str:
    return f'<details class="group {css}" open><summary>{label} <span class="n"></span></summary>{inner}</details>'


def _findings(data: ReviewData) -> str:
    headings = [h for h, _ in FINDING_COLUMNS]
    sites = []
    for key, site_rows in groupby(data.findings, key=site_key):
        domains = []
        for domain, domain_rows in groupby(site_rows, key=lambda f: f["DOMAIN"] or NO_DOMAIN):
            rules = [
                _group("rule", f"Rule {esc(rule)}", _table(headings, map(_finding_row, rows), 'class="findings"'))
                for rule, rows in groupby(domain_rows, key=lambda f: f["RULE"])
            ]
            domains.append(_group("domain", f"Domain {esc(domain)}", "".join(rules)))
        sites.append(_group("site", esc(site_label(key)), "".join(domains)))
    return "".join(sites) or "<p>No findings.</p>"


def _select(name: str, label: str, options: list[tuple[str, str]], selected: str = "") -> str:
    opts = "".join(
        f'<option value="{esc(v)}"{" selected" if v == selected else ""}>{esc(text)}</option>' for v, text in options
    )
    return f'<label>{esc(label)}<select id="filter-{name}" data-filter="{name}">{opts}</select></label>'


def _filters(data: ReviewData) -> str:
    sites = sorted({site_key(f) for f in data.findings})
    domains = sorted({f["DOMAIN"] or NO_DOMAIN for f in data.findings})
    severities = [s for s in SEVERITY_ORDER if any(f["SEVERITY"] == s for f in data.findings)]
    severities += sorted({f["SEVERITY"] for f in data.findings} - set(severities) - {None})
    return (
        '<div class="filters">'
        + _select("site", "Site", [("", "all sites")] + [(s, site_label(s)) for s in sites])
        + _select("domain", "Domain", [("", "all domains")] + [(d, d) for d in domains])
        + _select("severity", "Severity", [("", "all")] + [(s, s) for s in severities])
        + _select("status", "Status", [("", "all"), ("open", "open"), ("resolved", "resolved")], "open")
        + _select("change", "Since last run", [("", "any"), (NEW, "new"), (RESOLVED, "resolved")])
        + f'<span><b id="shown-count">{len(data.findings)}</b> of {len(data.findings)} findings shown</span>'
        + '</div><p id="no-match" hidden>No finding matches these filters.</p>'
    )


def _data_docs(data_docs: str | None) -> str:
    if not data_docs:
        return "<p>Analysis-readiness checks: no Data Docs were built for this run.</p>"
    return (
        f"<p>Analysis-readiness checks of the ADaM tables (Great Expectations): "
        f'<a id="data-docs" href="{esc(data_docs)}">Data Docs</a>.</p>'
    )


def render_page(
    data: ReviewData,
    counts: Counts,
    *,
    warehouse_name: str,
    data_docs: str | None,
    generated_at: dt.datetime | None = None,
) -> str:
    generated = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    csp = (
        f"default-src 'none'; script-src {_csp_hash(JS)}; style-src {_csp_hash(CSS)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trialdw data review — {esc(warehouse_name)}</title>
<style>{CSS}</style></head>
<body>
<h1>Data review</h1>
<p class="meta">Warehouse <code>{esc(warehouse_name)}</code> · generated {esc(generated)} ·
latest run <code>{esc(data.changes.latest_run or "none")}</code> · "since last run": {esc(data.changes.basis)} ·
all findings as a spreadsheet: <a id="findings-csv" href="findings.csv">findings.csv</a></p>
{_counts(counts)}
{_data_docs(data_docs)}
<h2>Sites</h2>
{_site_table(data)}
<h2>Transfers</h2>
<p>accepted = loaded and current for its site · superseded = an older accepted snapshot ·
rejected = nothing loaded (reason given; the site's previous transfer stays current) ·
incomplete = no manifest yet, looked at again next run.</p>
{_transfers(data)}
<h2>Row reconciliation per transfer and domain</h2>
{_reconciliation(data)}
<h2>Findings</h2>
{_filters(data)}
<div id="findings">{_findings(data)}</div>
<script>{JS}</script>
</body></html>
"""
