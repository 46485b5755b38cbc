"""The data managers' review page and findings.csv, from a real warehouse file.

Two nights over real CSV transfers of one study, two sites:
- night 1: site 101 transfer T1 with defect A (AESER a formula-like codelist
  violation) and defect B (an AETERM carrying markup, with a trailing space);
  site 102 transfer with an extra column (a warning).
- night 2: site 101 transfer T2 fixes A, keeps B, adds C (a negative lab value);
  transfer T3 is rejected (checksum mismatch).
Hand-checked expectations: open = B, C, T3's checksum finding (reject) and
102's extra column (warning); new since night 1 = C and T3's finding;
resolved since night 1 = A.
"""

from __future__ import annotations

import csv
import json
import shutil

import duckdb
import pytest

from tests.browser import HeadlessChromium, chromium_path
from tests.helpers.transfers import (
    STUDY,
    ae_row,
    base_files,
    csv_text,
    dm_row,
    ex_row,
    lb_row,
    study_config,
    tr_row,
    write_transfer,
)
from trialdw.ingest import ingest_landing, load_contracts
from trialdw.review_app import write_review_page
from trialdw.review_app.csvout import neutralise_formula

T1, T2, T3 = "20250301T020000Z", "20250401T020000Z", "20250501T020000Z"
S1, S2 = f"{STUDY}-101-001", f"{STUDY}-101-002"
MARKUP = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"
FORMULA = "=cmd|' /C calc'!A0"


def site_101_files(night: int) -> dict[str, str]:
    files = base_files()
    ae = [
        ae_row(S1, 1),
        ae_row(S1, 2, AESER=FORMULA if night == 1 else "N"),  # A: fixed on night 2
        ae_row(S2, 1, AETERM=MARKUP + " "),
    ]  # B: persists
    files["AE.csv"] = csv_text(ae)
    if night == 2:  # C: new on night 2
        files["LB.csv"] = csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(S2, "AFP", "2025-01-05", LBSTRESN="-5")])
    return files


def site_102_files() -> dict[str, str]:
    u = f"{STUDY}-102-001"
    return {
        "DM.csv": csv_text([dm_row("001", site="102", SITE_NOTE="x")]),  # extra column: a warning
        "EX.csv": csv_text([ex_row(u, 1)]),
        "AE.csv": csv_text([ae_row(u, 1)]),
        "TR.csv": csv_text([tr_row(u, "T01", "0")]),
        "LB.csv": csv_text([lb_row(u, "AFP", "2025-01-05")]),
    }


def break_checksum(manifest: dict) -> dict:
    manifest["files"]["DM.csv"]["sha256"] = "0" * 64
    return manifest


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """(warehouse after night 2, copy of the warehouse published after night 1)."""
    root = tmp_path_factory.mktemp("review")
    landing, db, previous = root / "landing", root / "trialdw.duckdb", root / "night1.duckdb"
    studies, contracts = {STUDY: study_config()}, load_contracts()
    write_transfer(landing, T1, site_101_files(1), site="101")
    write_transfer(landing, T1, site_102_files(), site="102")
    with duckdb.connect(str(db)) as con:
        ingest_landing(con, landing, studies, root / "work1", "20250301T030000Z-aaaaaa", contracts)
    shutil.copyfile(db, previous)
    write_transfer(landing, T2, site_101_files(2), site="101")
    write_transfer(landing, T3, site_101_files(2), site="101", manifest_edit=break_checksum)
    with duckdb.connect(str(db)) as con:
        ingest_landing(con, landing, studies, root / "work2", "20250501T030000Z-bbbbbb", contracts)
    return db, previous


def findings(db, where: str = "TRUE") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"SELECT SITEID, DOMAIN, COLUMN_NAME, RULE, SEVERITY, STATUS, FIRST_SEEN_TRANSFER "
            f"FROM audit.findings WHERE {where} ORDER BY ALL"
        ).fetchall()


def test_the_scenario_is_what_the_page_is_checked_against(nights):
    db, _ = nights
    assert findings(db) == [
        ("101", "AE", "AESER", "codelist", "reject", "resolved", T1),
        ("101", "AE", "AETERM", "whitespace", "reject", "open", T1),
        ("101", "DM", None, "checksum", "reject", "open", T3),
        ("101", "LB", "LBSTRESN", "range", "reject", "open", T2),
        ("102", "DM", "SITE_NOTE", "extra_columns", "warning", "open", T1),
    ]


@pytest.fixture(scope="module")
def page(nights, tmp_path_factory):
    """The page of night 2, compared with night 1's published file (what the flow does)."""
    db, previous = nights
    out = tmp_path_factory.mktemp("reports")
    (out / "data-docs").mkdir()
    (out / "data-docs" / "index.html").write_text("<title>Data Docs</title>", encoding="utf-8")
    return write_review_page(db, out, previous_db=previous), out


def test_counts_new_and_resolved_since_the_previous_night(page):
    summary, _ = page
    assert summary.counts.as_dict() == {
        "open_reject": 3,
        "open_warning": 1,
        "open": 4,
        "new": 2,
        "resolved_since": 1,
        "resolved_total": 1,
    }
    assert summary.latest_run == "20250501T030000Z-bbbbbb"
    assert "night1.duckdb" in summary.basis


def test_the_audit_trail_tells_the_same_news_without_a_previous_file(nights, tmp_path):
    db, _ = nights
    summary = write_review_page(db, tmp_path)  # latest run = newest RUN_ID recorded in the file
    assert (summary.counts.new, summary.counts.resolved_since) == (2, 1)
    assert summary.latest_run == "20250501T030000Z-bbbbbb"
    night1 = write_review_page(db, tmp_path / "n1", run_id="20250301T030000Z-aaaaaa")
    # Seen from night 1's transfers: B and the extra column were first seen then and are still open (A was
    # too, but is resolved now); night 1 resolved nothing.
    assert (night1.counts.new, night1.counts.resolved_since) == (2, 0)  # B and 102's warning still open


def test_first_night_everything_open_is_new(nights, tmp_path):
    db, _ = nights
    summary = write_review_page(db, tmp_path, previous_db=tmp_path / "not-published-yet.duckdb", data_docs=None)
    assert (summary.counts.new, summary.counts.resolved_since) == (4, 1)
    assert summary.basis.startswith("first published night")
    text = summary.html_path.read_text(encoding="utf-8")
    assert 'id="data-docs"' not in text and "no Data Docs were built for this run" in text


def test_markdown_summary_for_the_run_artifact(page):
    summary, _ = page
    assert "- open findings: 4 (3 reject, 1 warning)" in summary.markdown
    assert "- new since last run: 2; resolved since last run: 1" in summary.markdown
    assert "- rejected transfers: 1" in summary.markdown
    assert f"| {STUDY} | 101 | 3 | 0 | 2 | 1 |" in summary.markdown
    assert f"| {STUDY} | 102 | 0 | 1 | 0 | 0 |" in summary.markdown


def test_findings_csv_has_every_finding_with_its_life_cycle_and_no_live_formulas(page):
    _, out = page
    raw = (out / "findings.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    with open(out / "findings.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_rule = {(r["SITEID"], r["RULE"]): r for r in rows}
    assert sorted(by_rule) == [
        ("101", "checksum"),
        ("101", "codelist"),
        ("101", "range"),
        ("101", "whitespace"),
        ("102", "extra_columns"),
    ]
    fixed = by_rule[("101", "codelist")]
    assert (
        fixed["STATUS"],
        fixed["CHANGE"],
        fixed["FIRST_SEEN_TRANSFER"],
        fixed["LAST_SEEN_TRANSFER"],
        fixed["RESOLVED_TRANSFER"],
    ) == ("resolved", "resolved", T1, T1, T2)
    assert fixed["VALUE"] == "'" + FORMULA  # neutralised, still readable
    assert fixed["MESSAGE"].startswith("AESER '=cmd")  # not at the start: harmless, untouched
    assert (fixed["USUBJID"], fixed["RECORD_KEY"], fixed["SOURCE_FILE"], fixed["SOURCE_LINE"]) == (
        S1,
        f"{S1}|2",
        f"{STUDY}/101/{T1}/AE.csv",
        "3",
    )
    negative = by_rule[("101", "range")]
    assert (negative["VALUE"], negative["STATUS"], negative["CHANGE"]) == ("'-5", "open", "new")
    assert (negative["VISIT"], negative["VISITNUM"]) == ("SCREENING", "")  # LB has a VISIT, no VISITNUM
    assert fixed["VISIT"] == by_rule[("101", "checksum")]["VISIT"] == ""  # AE has no visit; a file none
    persisting = by_rule[("101", "whitespace")]
    assert (persisting["VALUE"], persisting["CHANGE"], persisting["LAST_SEEN_TRANSFER"]) == (MARKUP + " ", "", T2)
    rejected = by_rule[("101", "checksum")]
    assert (rejected["SOURCE_LINE"], rejected["CHANGE"], rejected["SOURCE_FILE"]) == (
        "",
        "new",
        f"{STUDY}/101/{T3}/DM.csv",
    )


@pytest.mark.parametrize(
    "cell, shown",
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Nausea", "Nausea"),
        ("1-2", "1-2"),
        ("", ""),
        (3, 3),
        (None, None),
    ],
)
def test_formula_guard(cell, shown):
    assert neutralise_formula(cell) == shown


def test_page_html_escapes_site_values(page):
    _, out = page
    text = (out / "review.html").read_text(encoding="utf-8")
    assert "<script>window.__xss" not in text and "<img src=x" not in text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=window.__xss=2&gt;" in text
    assert text.count("<script>") == 1  # the page's own filter script, nothing else
    assert "<th>Line</th><th>Visit</th>" in text
    assert "http://" not in text and "https://" not in text  # self-contained: no network


def test_page_shows_transfers_and_reconciliation(page):
    _, out = page
    text = (out / "review.html").read_text(encoding="utf-8")
    # 101: T1 and T2 x 5 domains, 102: T1 x 5 domains; the rejected T3 loaded nothing.
    assert "all 15 transfer × domain rows add up: loaded + quarantined = sent" in text
    assert '<details id="reconciliation-section">' in text  # collapsed: nothing to look at
    assert (
        f'<tr class="status-rejected"><td>{STUDY}</td><td>101</td><td>{T3}</td><td>rejected</td><td></td>'
        '<td class="message">DM.csv sha256 is '
    ) in text
    assert f'<tr class="status-superseded"><td>{STUDY}</td><td>101</td><td>{T1}</td><td>superseded</td>' in text


needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="chromium is not installed: browser checks of review.html skipped"
)

VISIBLE_ROWS = (
    "Array.from(document.querySelectorAll('tr.finding')).filter(r => !r.hidden)"
    ".map(r => r.dataset.site + ' ' + r.dataset.domain + ' ' + r.dataset.severity + ' ' + r.dataset.status"
    " + ' ' + r.dataset.change)"
)


def set_filter(browser, name: str, value: str) -> None:
    browser.evaluate(
        f"(() => {{ const s = document.getElementById('filter-{name}'); s.value = {json.dumps(value)};"
        " s.dispatchEvent(new Event('change')); })()"
    )


@needs_chromium
def test_page_in_a_browser_counts_filters_markup_as_text_and_data_docs(page, tmp_path):
    _, out = page
    with HeadlessChromium((out / "review.html").as_uri(), tmp_path) as browser:
        counts = browser.evaluate(
            "Object.fromEntries(Array.from(document.querySelectorAll('[data-count]'))"
            ".map(c => [c.dataset.count, c.querySelector('dd').textContent]))"
        )
        assert counts == {
            "open-reject": "3",
            "open-warning": "1",
            "new": "2",
            "resolved-since": "1",
            "resolved-total": "1",
        }

        # Default view: open findings only, grouped site -> domain -> rule.
        site = f"{STUDY}/101"
        assert sorted(browser.evaluate(VISIBLE_ROWS)) == [
            f"{site} AE reject open ",
            f"{site} DM reject open new",
            f"{site} LB reject open new",
            f"{STUDY}/102 DM warning open ",
        ]
        assert browser.evaluate("document.getElementById('shown-count').textContent") == "4"

        set_filter(browser, "site", f"{STUDY}/102")
        assert browser.evaluate(VISIBLE_ROWS) == [f"{STUDY}/102 DM warning open "]
        assert browser.evaluate("document.getElementById('shown-count').textContent") == "1"
        # Groups of the other site disappear with their rows.
        assert browser.evaluate(
            "Array.from(document.querySelectorAll('details.site')).filter(g => !g.hidden)"
            ".map(g => g.querySelector('summary').textContent.trim())"
        ) == [f"{STUDY} · site 102 (1)"]

        set_filter(browser, "site", "")
        set_filter(browser, "severity", "warning")
        set_filter(browser, "status", "resolved")
        assert browser.evaluate(VISIBLE_ROWS) == []
        assert browser.evaluate("document.getElementById('no-match').hidden") is False
        set_filter(browser, "severity", "")
        assert browser.evaluate(VISIBLE_ROWS) == [f"{site} AE reject resolved resolved"]
        set_filter(browser, "status", "")
        set_filter(browser, "change", "new")
        assert sorted(browser.evaluate(VISIBLE_ROWS)) == [f"{site} DM reject open new", f"{site} LB reject open new"]

        # The planted markup is text: no element made of it, nothing ran, the literal text visible.
        assert browser.evaluate("typeof window.__xss") == "undefined"
        assert browser.evaluate("document.scripts.length") == 1
        assert browser.evaluate("document.querySelectorAll('#findings img, #findings script').length") == 0
        set_filter(browser, "change", "")
        assert browser.evaluate(f"document.body.innerText.includes({json.dumps(MARKUP)})") is True

        link = browser.evaluate(
            "(() => { const a = document.getElementById('data-docs'); return [a.getAttribute('href'), a.href]; })()"
        )
        assert link[0] == "data-docs/index.html"
        assert link[1] == (out / "data-docs" / "index.html").as_uri()
        browser.screenshot(tmp_path / "review.png")


def _xlsx_sheets(path) -> dict[str, list[list[str]]]:
    """Cell texts of every sheet of an .xlsx (a zip of XML): enough to check what a spreadsheet shows."""
    import re
    import zipfile
    from xml.etree import ElementTree

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as book:
        shared = []
        if "xl/sharedStrings.xml" in book.namelist():
            root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t")) for si in root.findall("m:si", ns)]
        names = [
            s.get("name") for s in ElementTree.fromstring(book.read("xl/workbook.xml")).iter(f"{{{ns['m']}}}sheet")
        ]
        sheets = {}
        for i, name in enumerate(names, start=1):
            xml = book.read(f"xl/worksheets/sheet{i}.xml")
            root = ElementTree.fromstring(xml)
            rows = []
            for row in root.iter(f"{{{ns['m']}}}row"):
                cells = {}  # column index -> text; an empty cell is not in the file at all
                for c in row.findall("m:c", ns):
                    assert c.find("m:f", ns) is None, "no cell is a formula"
                    letters = re.match(r"[A-Z]+", c.get("r")).group()
                    column = 0
                    for letter in letters:
                        column = column * 26 + ord(letter) - 64
                    value = c.find("m:v", ns)
                    if c.get("t") == "s":
                        cells[column - 1] = shared[int(value.text)]
                    elif c.get("t") == "inlineStr":
                        cells[column - 1] = "".join(t.text or "" for t in c.iter(f"{{{ns['m']}}}t"))
                    else:
                        cells[column - 1] = value.text if value is not None else ""
                rows.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
            sheets[name] = {
                "rows": rows,
                "frozen": b'state="frozen"' in xml and b'ySplit="1"' in xml,
                "autofilter": re.search(rb'<autoFilter ref="A1:[A-Z]+\d+"', xml) is not None,
            }
    return sheets


def test_findings_xlsx_has_a_frozen_filtered_header_states_and_the_summary_by_rule(page):
    summary, _ = page
    sheets = _xlsx_sheets(summary.xlsx_path)
    assert list(sheets) == ["Findings", "Summary by rule"]
    findings_sheet = sheets["Findings"]
    assert findings_sheet["frozen"] and findings_sheet["autofilter"]
    header, *rows = findings_sheet["rows"]
    assert header[:4] == ["FINDING_ID", "STATUS", "STATE", "CHANGE"]
    assert {"STATE_REASON", "QUERY_REF", "STATE_BY", "STATE_AT"} <= set(header)
    by_rule = {r[header.index("RULE")]: dict(zip(header, r, strict=False)) for r in rows}
    assert len(rows) == 5
    fixed = by_rule["codelist"]
    assert (fixed["STATUS"], fixed["STATE"], fixed["STATE_REASON"]) == ("resolved", "closed", "resolved_by_data")
    assert fixed["VALUE"] == "'" + FORMULA  # text, guarded like findings.csv
    assert by_rule["whitespace"]["VALUE"] == MARKUP + " " and by_rule["whitespace"]["STATE"] == "new"
    rules = sheets["Summary by rule"]
    assert rules["frozen"] and rules["autofilter"]
    rheader, *rrows = rules["rows"]
    assert rheader == [
        "RULE",
        "SEVERITY",
        "CATEGORY",
        "DOMAINS",
        "FINDINGS",
        "OPEN",
        "IN_QUERY",
        "CLOSED",
        "SITES_AFFECTED",
        "SITES",
    ]
    table = {r[0]: r[4:9] for r in rrows}
    assert table["codelist"] == ["1", "0", "0", "1", "0"]
    assert table["whitespace"] == ["1", "1", "0", "0", "1"]
    assert len(table) == 5


def test_page_shows_states_and_the_summary_by_rule(page):
    _, out = page
    text = (out / "review.html").read_text(encoding="utf-8")
    assert '<table id="rule-summary" class="rules">' in text
    assert (
        '<tr data-rule="codelist"><td>codelist</td><td>reject</td><td>row</td><td>AE</td><td class="num">1</td>'
        '<td class="num">0</td><td class="num">0</td><td class="num">1</td><td class="num">0</td><td></td></tr>'
    ) in text
    assert '<span class="state state-closed">closed · resolved by data</span>' in text
    assert ">None<" not in text  # an empty field is an empty cell
    assert 'href="findings.xlsx"' in text
