"""Per-study HTML reports (trialdw.report).

One real warehouse is built for the module from synth CSVs (synth → ingest →
dbt build → endpoints, the flow's steps without Prefect, ~25 s); the reports
are written from it and checked as HTML, then rendered in headless Chromium.
The pure helpers (at-risk counts, best % change, swimmer lanes, number
formats, SVG inlining) are checked on small hand-made frames.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.browser import HeadlessChromium, chromium_path
from trialdw.report import page_file_name, write_reports
from trialdw.report.formatting import count_pct, estimate_cell, p_value
from trialdw.report.km_plot import at_risk, risk_tick_step, with_time_zero
from trialdw.report.swimmer import MAX_LANES, drawn_lanes, swimmer_lanes
from trialdw.report.waterfall import best_percent_change

pytestmark = pytest.mark.slow

GENERATED_AT = dt.datetime(2026, 11, 21, 6, 30, tzinfo=dt.UTC)
STUDIES = ("HCC-REGO-PD1", "HCC-SURU-SC")
COMMON_FIGURES = ("fig-km-pfs", "fig-km-os", "fig-km-dor", "fig-waterfall", "fig-swimmer")


# --------------------------------------------------------------------------- the warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """A real warehouse file built by the flow's own steps from synth data."""
    from trialdw import warehouse as wh
    from trialdw.dbt_runner import dbt_build
    from trialdw.endpoints import compute_all
    from trialdw.ingest.landing import ingest_landing
    from trialdw.study_config import load_studies, write_config_tables
    from trialdw.synth import generate

    root = tmp_path_factory.mktemp("report-wh")
    studies = load_studies()
    generate(root / "landing", subjects=24, sites=1)
    paths = wh.WarehousePaths(root / "wh" / "trialdw.duckdb")
    paths.folder.mkdir()
    building = paths.building("test")  # the steps of a night, in one file
    with duckdb.connect(str(building)) as con:
        write_config_tables(con, studies)
        ingest_landing(con, root / "landing", studies, paths.work, "test")
    result = dbt_build(building)
    assert result.success, result.failures[:2]
    compute_all(building)
    return wh.publish(building, paths)


@pytest.fixture(scope="module")
def reports(warehouse, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    written = write_reports(warehouse, out, generated_at=GENERATED_AT)
    return {p.stem: p for p in written}


def query(db: Path, sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).df()


# --------------------------------------------------------------------------- a small HTML reader


class PageParser(HTMLParser):
    """Figures (id → caption, has <svg>), tables (id → rows of cell texts), all ids."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.figures: dict[str, dict] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.headers: dict[str, list[str]] = {}  # every header cell's text, spanners included
        self.row_attrs: dict[str, list[dict]] = {}
        self.svg_count = 0
        self.links: list[str] = []
        self._figure = self._table = self._div_id = None
        self._cell: list[str] | None = None
        self._head_cell: list[str] | None = None
        self._in_body = self._in_caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "figure":
            self._figure = a["id"]
            self.figures[a["id"]] = {"svg": False, "caption": ""}
        elif tag == "svg":
            self.svg_count += 1
            if self._figure:
                self.figures[self._figure]["svg"] = True
        elif tag == "figcaption":
            self._in_caption = True
        elif tag == "div" and "id" in a:
            self._div_id = a["id"]  # great-tables puts the id on a <div> around its <table>
        elif tag == "table":
            self._table = a.get("id") or self._div_id
            self.tables[self._table], self.row_attrs[self._table] = [], []
            self.headers[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[self._table].append([])
            self.row_attrs[self._table].append(a)
        elif tag in ("td", "th") and self._in_body:  # great-tables' row labels are <th scope="row">
            self._cell = []
        elif tag == "th" and self._table is not None:
            self._head_cell = []

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        elif tag == "figcaption":
            self._in_caption = False
        elif tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "th" and self._head_cell is not None:
            self.headers[self._table].append(" ".join("".join(self._head_cell).split()))
            self._head_cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._head_cell is not None:
            self._head_cell.append(data)
        if self._in_caption and self._figure:
            self.figures[self._figure]["caption"] += data


def parse(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    return parser


# --------------------------------------------------------------------------- the pages, as HTML


def test_one_page_per_study_and_an_index_linking_them(reports):
    assert sorted(reports) == sorted([*STUDIES, "index"])
    index = parse(reports["index"].read_text(encoding="utf-8"))
    assert index.links == [f"{s}.html" for s in STUDIES]
    assert len(index.tables["study-index"]) == 2


def test_the_index_lists_each_studys_population_counts_from_adsl(reports, warehouse):
    """The index reads the population flags only (data.read_listings); its
    counts are ADSL's, and the study page's header says the same."""
    rows = parse(reports["index"].read_text(encoding="utf-8")).tables["study-index"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for study, _title, subjects, _as_of in rows:
            itt, saf, eff = con.execute(
                "SELECT count_if(ITTFL = 'Y'), count_if(SAFFL = 'Y'), count_if(EFFFL = 'Y') FROM adam.adsl "
                "WHERE STUDYID = ?",
                [study],
            ).fetchone()
            assert subjects == f"ITT {itt}, safety {saf}, efficacy-evaluable {eff}"
            assert itt == 24  # synth: 24 subjects, all enrolled
            assert subjects in reports[study].read_text(encoding="utf-8")


@pytest.mark.parametrize("study", STUDIES)
def test_every_plot_is_an_inline_svg_with_a_caption(reports, study):
    page = parse(reports[study].read_text(encoding="utf-8"))
    expected = COMMON_FIGURES + (("fig-celltype",) if study == "HCC-SURU-SC" else ())
    assert tuple(page.figures) == expected
    for fig_id, fig in page.figures.items():
        assert fig["svg"], fig_id
        assert len(fig["caption"]) > 40, fig_id
    assert page.svg_count == len(expected)
    assert len(page.ids) == len(set(page.ids)), "element ids collide between the inlined SVGs"


@pytest.mark.parametrize("study", STUDIES)
def test_endpoints_table_has_19_rows_showing_the_warehouse_values(reports, warehouse, study):
    rows = parse(reports[study].read_text(encoding="utf-8")).tables["endpoints-table"]
    assert len(rows) == 19
    by_code = {r[0]: r for r in rows}
    orr = query(warehouse, "SELECT * FROM analysis.endpoints WHERE STUDYID = ? AND ENDPOINT = 'ORR'", [study]).iloc[0]
    assert orr["ESTIMATE"] == pytest.approx(orr["N_EVENTS"] / orr["N"])  # responders / EFFFL
    expected = f"{100 * orr['ESTIMATE']:.1f} % ({100 * orr['LCL']:.1f} %, {100 * orr['UCL']:.1f} %)"
    assert by_code["ORR"][3:6] == [str(orr["N"]), str(orr["N_EVENTS"]), expected]
    assert by_code["ORR"][2] == "EFFFL"


def test_km_numbers_at_risk_start_with_everyone_analysed(reports, warehouse):
    """The at-risk row under each KM plot starts at N of the analysis set."""
    text = reports["HCC-REGO-PD1"].read_text(encoding="utf-8")
    n = query(
        warehouse,
        """SELECT PARAMCD, max(AT_RISK) AS N FROM analysis.km_curves
                            WHERE STUDYID = 'HCC-REGO-PD1' GROUP BY PARAMCD""",
    ).set_index("PARAMCD")["N"]
    itt = query(warehouse, "SELECT count(*) AS N FROM adam.adsl WHERE STUDYID = 'HCC-REGO-PD1' AND ITTFL = 'Y'")
    assert n["OS"] == itt["N"].iloc[0]
    for paramcd in ("PFS", "OS", "DOR"):
        first = re.search(rf'id="fig-km-{paramcd.lower()}-at-risk-0">\s*<text[^>]*>(\d+)</text>', text)
        assert int(first.group(1)) == n[paramcd], paramcd


def _expected_ae_rows(warehouse, study: str, armcd: str | None = None) -> tuple[int, list[tuple[str, int]]]:
    """(N, [(row label, subjects any grade)]) of the AE table from the warehouse:
    any TEAE, then SOCs by decreasing count, each followed by its terms likewise."""
    arm = "ARMCD IS NULL" if armcd is None else f"ARMCD = '{armcd}'"
    soc = query(warehouse, "SELECT * FROM analysis.ae_by_soc WHERE STUDYID = ? AND ARMCD IS NULL", [study])
    term = query(warehouse, "SELECT * FROM analysis.ae_by_term WHERE STUDYID = ? AND ARMCD IS NULL", [study])
    own_soc = query(warehouse, f"SELECT * FROM analysis.ae_by_soc WHERE STUDYID = ? AND {arm}", [study])
    own_term = query(warehouse, f"SELECT * FROM analysis.ae_by_term WHERE STUDYID = ? AND {arm}", [study])
    n = int(own_soc.loc[own_soc["AEBODSYS"].isna(), "N_SUBJECTS_SAF"].iloc[0])
    count_soc = dict(zip(own_soc["AEBODSYS"], own_soc["ANY_GRADE"], strict=True))
    count_term = {
        (a, d): k for a, d, k in zip(own_term["AEBODSYS"], own_term["AEDECOD"], own_term["ANY_GRADE"], strict=True)
    }
    rows = [("Any TEAE", int(own_soc.loc[own_soc["AEBODSYS"].isna(), "ANY_GRADE"].iloc[0]))]
    for name in soc[soc["AEBODSYS"].notna()].sort_values(["ANY_GRADE", "AEBODSYS"], ascending=[False, True])[
        "AEBODSYS"
    ]:
        rows.append((name, int(count_soc.get(name, 0))))
        terms = term[term["AEBODSYS"] == name].sort_values(["ANY_GRADE", "AEDECOD"], ascending=[False, True])
        rows += [(t, int(count_term.get((name, t), 0))) for t in terms["AEDECOD"]]
    return n, rows


@pytest.mark.parametrize("study", STUDIES)
def test_ae_table_any_teae_then_socs_with_n_pct_then_their_terms_and_n_in_the_header(reports, warehouse, study):
    page = parse(reports[study].read_text(encoding="utf-8"))
    rows, headers = page.tables["ae-table"], page.headers["ae-table"]
    n, expected = _expected_ae_rows(warehouse, study)
    assert [(r[0], r[1]) for r in rows] == [(label, count_pct(k, n)) for label, k in expected]
    ae_any = query(warehouse, "SELECT * FROM analysis.endpoints WHERE STUDYID = ? AND ENDPOINT = 'AE_ANY'", [study])
    assert rows[0][1] == count_pct(ae_any["N_EVENTS"].iloc[0], ae_any["N"].iloc[0])  # the AE_ANY endpoint
    arm = query(warehouse, "SELECT ARM FROM config.study_arms WHERE STUDYID = ?", [study])["ARM"].iloc[0]
    assert f"{arm} (N = {n})" in headers
    assert headers[-9:] == ["Any grade", *(f"Grade {g}" for g in range(1, 6)), "Grade ≥ 3", "Serious", "Related"]


def test_ae_table_css_is_scoped_to_the_table(reports):
    """great-tables 1.1 writes two unscoped rules; the report scopes every selector."""
    text = reports["HCC-REGO-PD1"].read_text(encoding="utf-8")
    style = re.search(r'<div id="ae-table"[^>]*>\s*<style>(.*?)</style>', text, re.S).group(1)
    selectors = [sel.strip() for rule in re.findall(r"([^{}]+)\{", style) for sel in rule.split(",")]
    assert selectors and all(sel.startswith("#ae-table") for sel in selectors), selectors


def test_single_cell_table_only_for_the_single_cell_study(reports, warehouse):
    sc = parse(reports["HCC-SURU-SC"].read_text(encoding="utf-8")).tables["celltype-table"]
    change = query(warehouse, "SELECT * FROM analysis.celltype_change WHERE STUDYID = 'HCC-SURU-SC'")
    assert len(sc) == len(change) > 0
    assert "celltype-table" not in parse(reports["HCC-REGO-PD1"].read_text(encoding="utf-8")).tables


@pytest.mark.parametrize("study", STUDIES)
def test_header_says_which_transfers_the_data_are_from(reports, warehouse, study):
    text = reports[study].read_text(encoding="utf-8")
    current = query(
        warehouse, "SELECT SITEID, TRANSFER_ID FROM audit.transfers WHERE STUDYID = ? AND CURRENT = 'Y'", [study]
    )
    for _, t in current.iterrows():
        assert f"site {t['SITEID']}: transfer {t['TRANSFER_ID']}" in text
    assert "2026-11-21 06:30 UTC" in text


@pytest.mark.parametrize("study", STUDIES)
def test_page_is_self_contained(reports, study):
    text = reports[study].read_text(encoding="utf-8")
    assert not re.search(r"https?:", text), "a URL in the page"
    assert "<script" not in text and "<link" not in text and " src=" not in text
    assert "default-src 'none'" in text  # CSP: the browser may fetch nothing at all


def test_every_data_value_is_escaped(warehouse, tmp_path):
    """Hostile text in a title, an AE term and a subject id reaches the page as text."""
    copy = tmp_path / "hostile.duckdb"
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("""UPDATE config.studies SET TITLE = '<script>alert("t")</script> & co'
                       WHERE STUDYID = 'HCC-REGO-PD1'""")
        con.execute("""UPDATE analysis.ae_by_term SET AEDECOD = '<img src=x onerror=alert(1)>'
                       WHERE STUDYID = 'HCC-REGO-PD1' AND AEDECOD = (SELECT min(AEDECOD) FROM analysis.ae_by_term
                                                                     WHERE STUDYID = 'HCC-REGO-PD1')""")
        con.execute("""UPDATE adam.adsl SET SUBJID = '$a<b>$' WHERE USUBJID = (SELECT min(USUBJID) FROM adam.adsl
                       WHERE STUDYID = 'HCC-REGO-PD1' AND SAFFL = 'Y')""")
    text = (write_reports(copy, tmp_path / "out")[0]).read_text(encoding="utf-8")
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert html.escape('<script>alert("t")</script> & co') in text
    assert html.escape("<img src=x onerror=alert(1)>") in text
    assert "$a&lt;b&gt;$" in text  # swimmer label: plain text, not mathtext


# --------------------------------------------------------------------------- a randomised study

RANDOMISED = "HCC-REGO-PD1"
ARMS = (("REGOPD1", "REGORAFENIB + PD-1 INHIBITOR"), ("CTRL", "Control <arm> & co"))


@pytest.fixture(scope="module")
def randomised(warehouse, tmp_path_factory) -> dict:
    """The synth warehouse with HCC-REGO-PD1 made a two-arm study: every second
    subject moved to a second, reference arm (ADSL ARMCD/ARM and config.study_arms),
    the endpoint step run again, the reports written."""
    from trialdw.endpoints import compute_all

    root = tmp_path_factory.mktemp("randomised")
    copy = root / "trialdw.duckdb"
    shutil.copyfile(warehouse, copy)
    control_armcd, control_arm = ARMS[1]
    with duckdb.connect(str(copy)) as con:
        con.execute(
            """UPDATE adam.adsl SET ARMCD = ?, ARM = ? WHERE STUDYID = ? AND USUBJID IN (
                 SELECT USUBJID FROM (SELECT USUBJID, row_number() OVER (ORDER BY USUBJID) AS k
                                      FROM adam.adsl WHERE STUDYID = ?) WHERE k % 2 = 0)""",
            [control_armcd, control_arm, RANDOMISED, RANDOMISED],
        )
        con.execute("UPDATE config.study_arms SET REFERENCE = false WHERE STUDYID = ?", [RANDOMISED])
        con.execute("INSERT INTO config.study_arms VALUES (?, ?, ?, 2, true)", [RANDOMISED, control_armcd, control_arm])
    assert compute_all(copy).errors == {}
    pages = write_reports(copy, root / "reports", generated_at=GENERATED_AT, studies=[RANDOMISED])
    return {"warehouse": copy, "page": pages[0]}


def test_randomised_ae_table_has_a_column_group_per_arm_and_a_total_with_n(randomised):
    page = parse(randomised["page"].read_text(encoding="utf-8"))
    rows, headers = page.tables["ae-table"], page.headers["ae-table"]
    db = randomised["warehouse"]
    groups = [(armcd, name) for armcd, name in ARMS] + [(None, "Total")]
    expected = [_expected_ae_rows(db, RANDOMISED, armcd) for armcd, _ in groups]
    for armcd, name in groups:
        n = expected[[g for g, _ in groups].index(armcd)][0]
        assert f"{name} (N = {n})" in headers  # escaped in the HTML, text in the DOM
    assert sum(n for n, _ in expected[:2]) == expected[2][0]
    assert headers.count("Any grade") == headers.count("Grade ≥ 3") == 3
    for i, (label, _) in enumerate(expected[2][1]):
        cells = [count_pct(expected[g][1][i][1], expected[g][0]) for g in range(3)]
        assert rows[i][0] == label and rows[i][1::2] == cells, label
    text = randomised["page"].read_text(encoding="utf-8")
    assert "Control &lt;arm&gt; &amp; co (N = " in text and "Control <arm>" not in text


def test_randomised_km_plots_have_a_line_and_an_at_risk_row_per_arm(randomised):
    text = randomised["page"].read_text(encoding="utf-8")
    curves = query(
        randomised["warehouse"],
        "SELECT ARMCD, PARAMCD, max(AT_RISK) AS N FROM analysis.km_curves WHERE STUDYID = ? AND ARMCD IS NOT NULL "
        "GROUP BY ALL",
        [RANDOMISED],
    )
    n = {(r["ARMCD"], r["PARAMCD"]): r["N"] for _, r in curves.iterrows()}
    for paramcd in ("PFS", "OS"):
        for k, (armcd, _) in enumerate(ARMS):
            first = re.search(rf'id="fig-km-{paramcd.lower()}-at-risk-{k}-0">\s*<text[^>]*>(\d+)</text>', text)
            assert int(first.group(1)) == n[(armcd, paramcd)], (paramcd, armcd)
    caption = parse(text).figures["fig-km-os"]["caption"]
    assert "by arm" in caption and "numbers at risk per arm" in caption
    assert "HR vs Control &lt;arm&gt; &amp; co" in text  # the legend names the comparison, escaped


def test_randomised_endpoints_and_comparisons_tables(randomised):
    page = parse(randomised["page"].read_text(encoding="utf-8"))
    endpoints = page.tables["endpoints-table"]
    assert len(endpoints) == 19 and all(len(r) == 2 + len(ARMS) + 1 for r in endpoints)
    comparisons = page.tables["comparisons-table"]
    assert [r[0] for r in comparisons] == [
        "PFS hazard ratio vs reference",
        "PFS log-rank test, all arms (p)",
        "OS hazard ratio vs reference",
        "OS log-rank test, all arms (p)",
        "ORR difference vs reference (percentage points)",
        "DCR difference vs reference (percentage points)",
    ]
    hr = query(
        randomised["warehouse"],
        "SELECT * FROM analysis.endpoints WHERE STUDYID = ? AND ENDPOINT = 'OS_HR'",
        [RANDOMISED],
    ).iloc[0]
    row = comparisons[2]
    assert row[1] == f"{ARMS[0][1]} vs {ARMS[1][1]}"
    if hr["ESTIMATE"] == hr["ESTIMATE"]:  # estimable with this synth seed
        assert row[5] == f"{hr['ESTIMATE']:.2f} ({hr['LCL']:.2f}, {hr['UCL']:.2f})"


# --------------------------------------------------------------------------- rendered in Chromium


def chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={user_data}",
    ]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (Debian package 'chromium')")
def test_rendered_in_chromium_plots_and_tables_are_in_the_dom(reports, tmp_path):
    page = reports["HCC-SURU-SC"]
    dom = chromium("--dump-dom", page.as_uri(), user_data=tmp_path / "profile").stdout
    parsed = parse(dom)
    assert set(parsed.figures) == {*COMMON_FIGURES, "fig-celltype"}
    assert all(f["svg"] for f in parsed.figures.values())
    assert len(parsed.tables["endpoints-table"]) == 19
    assert {"ae-table", "celltype-table"} <= set(parsed.tables)
    assert parsed.tables["ae-table"][0][0] == "Any TEAE"

    from PIL import Image

    shot = tmp_path / "page.png"
    chromium(f"--screenshot={shot}", "--window-size=1400,2000", page.as_uri(), user_data=tmp_path / "profile2")
    low, high = Image.open(shot).convert("L").getextrema()
    assert high - low > 100, "the screenshot is blank"


AE_TABLE_JS = """(() => {
  const table = document.querySelector('#ae-table table');
  const heads = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
  const rows = [...table.querySelectorAll('tbody tr')].map(tr =>
      [...tr.children].map(c => ({text: c.innerText.trim(), bold: getComputedStyle(c).fontWeight >= 600,
                                  indent: parseFloat(getComputedStyle(c).textIndent) || 0})));
  const pageTd = document.querySelector('#endpoints-table td');
  return {heads, rows, visible: table.getBoundingClientRect().height > 0,
          endpointsBorder: getComputedStyle(pageTd).borderBottomStyle};
})()"""


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (Debian package 'chromium')")
@pytest.mark.parametrize("which", ["single-arm", "randomised"])
def test_ae_table_in_chromium_any_teae_row_soc_counts_and_n_in_headers(which, reports, randomised, tmp_path):
    """Rendered by headless Chromium (DevTools): what a reader sees in the AE table."""
    page_file = reports["HCC-REGO-PD1"] if which == "single-arm" else randomised["page"]
    with HeadlessChromium(page_file.as_uri(), tmp_path) as browser:
        got = browser.evaluate(AE_TABLE_JS)
    assert got["visible"]
    any_row, soc_row, term_row = got["rows"][0], got["rows"][1], got["rows"][2]
    assert any_row[0]["text"] == "Any TEAE" and any_row[0]["bold"]
    assert re.fullmatch(r"\d+ \(\d+\.\d\)", any_row[1]["text"])  # n (%)
    assert soc_row[0]["bold"] and re.fullmatch(r"\d+ \(\d+\.\d\)", soc_row[1]["text"])  # a SOC row with n (%)
    assert not term_row[0]["bold"] and term_row[0]["indent"] > soc_row[0]["indent"]  # a term, indented
    n_heads = [h for h in got["heads"] if re.search(r"\(N = \d+\)$", h)]
    assert len(n_heads) == (1 if which == "single-arm" else 3)
    if which == "randomised":
        assert n_heads[-1].startswith("Total") and n_heads[1].startswith("Control <arm> & co")
    # great-tables' CSS stays inside its table: the page's other tables keep their borders
    assert got["endpointsBorder"] == "solid"


# --------------------------------------------------------------------------- helpers, hand-checked


def test_at_risk_counts_between_curve_rows():
    curve = pd.DataFrame(
        {
            "TIME": [0.0, 1.5, 4.0],
            "SURVIVAL": [1, 0.8, 0.4],
            "LCL": [1, 0.5, 0.1],
            "UCL": [1, 0.9, 0.7],
            "AT_RISK": [10, 10, 4],
            "EVENTS": [0, 2, 2],
            "CENSORED": [0, 0, 2],
        }
    )
    # at 0: 10; at 1.5 (a row): 10; at 2 and 3: the next row (4.0) has 4 at risk; past 4.0: nobody
    assert at_risk(curve, [0, 1.5, 2, 3, 4, 6]) == [10, 10, 4, 4, 4, 0]
    assert risk_tick_step(4.0) == 1 and risk_tick_step(21) == 3 and risk_tick_step(50) == 6


def test_curve_gets_a_time_zero_row_when_missing():
    curve = pd.DataFrame(
        {"TIME": [2.0], "SURVIVAL": [0.5], "LCL": [0.1], "UCL": [0.9], "AT_RISK": [2], "EVENTS": [1], "CENSORED": [0]}
    )
    out = with_time_zero(curve)
    assert out[["TIME", "SURVIVAL", "AT_RISK"]].values.tolist() == [[0.0, 1.0, 2], [2.0, 0.5, 2]]


def _d(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


def test_best_percent_change_uses_complete_assessments_up_to_first_pd():
    adsl = pd.DataFrame({"USUBJID": ["A", "B", "C"], "EFFFL": ["Y", "Y", "N"]})
    sums = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A", "A", "B", "C"],
            "ADT": [
                _d("2026-02-01"),
                _d("2026-03-01"),
                _d("2026-04-01"),
                _d("2026-05-01"),
                _d("2026-02-01"),
                _d("2026-02-01"),
            ],
            "N_TARGET": [2, 2, 2, 2, 1, 1],
            "N_MEASURED": [2, 1, 2, 2, 1, 1],
            "SOD": [80.0, 20.0, 120.0, 10.0, 55.0, 1.0],
            "BASE_SOD": [100.0, 100.0, 100.0, 100.0, 50.0, 10.0],
        }
    )
    adrs = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "B"],
            "PARAMCD": ["PD", "CBOR", "CBOR"],
            "AVALC": ["Y", "SD", "PD"],
            "ADT": [_d("2026-04-01"), pd.NaT, pd.NaT],
        }
    )
    best = best_percent_change(sums, adsl, adrs)
    # A: 2026-03 is incomplete (1 of 2 lesions), 2026-05 is after the first PD → best is -20 % (80 vs 100)
    # B: +10 %; C is not efficacy-evaluable. Sorted: largest increase first.
    assert best.values.tolist() == [["B", 10.0, "PD"], ["A", -20.0, "SD"]]


def test_swimmer_lanes_in_months_since_first_dose():
    adsl = pd.DataFrame(
        {
            "USUBJID": ["S-1", "S-2", "S-3"],
            "SUBJID": ["1", "2", "3"],
            "SAFFL": ["Y", "Y", "N"],
            "TRTSDT": [_d("2026-01-01"), _d("2026-01-01"), pd.NaT],
            "TRTEDT": [_d("2026-03-02"), _d("2026-07-20"), pd.NaT],  # 60.875 days = 2 months; 200 days
            "EOTSTT": ["DISCONTINUED", "ONGOING", None],
            "DTHDT": [_d("2026-04-01"), pd.NaT, pd.NaT],
        }
    )
    adrs = pd.DataFrame(
        {
            "USUBJID": ["S-2", "S-2", "S-2", "S-1"],
            "PARAMCD": ["OVR", "OVR", "OVR", "PD"],
            "AVALC": ["PR", "PR", "CR", "Y"],
            "ANL01FL": ["Y", "Y", "Y", None],
            "ADT": [_d("2026-02-12"), _d("2026-01-30"), _d("2026-04-01"), _d("2026-03-02")],
        }
    )
    lanes = swimmer_lanes(adsl, adrs).set_index("USUBJID")
    assert list(lanes.index) == ["S-1", "S-2"]  # shortest first = drawn at the bottom
    assert lanes.loc["S-1", "END"] == pytest.approx(60 / 30.4375)
    assert lanes.loc["S-1", "PD"] == pytest.approx(60 / 30.4375)
    assert lanes.loc["S-1", "DEATH"] == pytest.approx(90 / 30.4375)
    assert lanes.loc["S-2", "FIRST_PR"] == pytest.approx(29 / 30.4375)  # the earlier of the two PRs
    assert lanes.loc["S-2", "FIRST_CR"] == pytest.approx(90 / 30.4375)
    assert bool(lanes.loc["S-2", "ONGOING"]) and pd.isna(lanes.loc["S-2", "DEATH"])


def test_a_large_study_s_swimmer_draws_the_longest_on_treatment_and_says_what_it_left_out():
    n = 2000
    start = _d("2026-01-01")
    adsl = pd.DataFrame(
        {
            "USUBJID": [f"S-{i:04d}" for i in range(n)],
            "SUBJID": [f"{i:04d}" for i in range(n)],
            "SAFFL": ["Y"] * n,
            "TRTSDT": [start] * n,
            "TRTEDT": [start + pd.Timedelta(days=i) for i in range(n)],  # subject i: i days on treatment
            "EOTSTT": ["DISCONTINUED"] * n,
            "DTHDT": [pd.NaT] * n,
            "EFFFL": ["N"] * n,
        }
    )
    adrs = pd.DataFrame(columns=["USUBJID", "PARAMCD", "AVALC", "ANL01FL", "ADT"])
    lanes = swimmer_lanes(adsl, adrs)
    drawn = drawn_lanes(lanes)
    assert len(lanes) == 2000 and len(drawn) == MAX_LANES == 60
    # the 60 longest on treatment (1940..1999 days), the longest at the top (last)
    assert list(drawn["SUBJID"]) == [f"{i:04d}" for i in range(1940, 2000)]
    from trialdw.report import _response_section
    from trialdw.report.data import StudyReportData

    empty = pd.DataFrame()
    data = StudyReportData("S", "", None, empty, empty, empty, empty, empty, adsl, adrs, empty, None)
    html = _response_section(data)
    assert "Shown: the 60 subjects longest on treatment of 2000 dosed; the other 1940 are not drawn" in html
    assert html.count('id="fig-swimmer"') == 1


def test_number_formats():
    months = pd.Series({"N": 8, "ESTIMATE": 6.80082, "LCL": 2.5955, "UCL": None, "UNIT": "months"})
    rate = pd.Series({"N": 21, "ESTIMATE": 8 / 21, "LCL": 0.181072, "UCL": 0.615646, "UNIT": "proportion"})
    beyond = pd.Series({"N": 5, "ESTIMATE": None, "LCL": None, "UCL": None, "UNIT": "proportion"})
    nobody = pd.Series({"N": 0, "ESTIMATE": None, "LCL": None, "UCL": None, "UNIT": "months"})
    assert estimate_cell(months) == "6.8 (2.6, NR)"
    assert estimate_cell(rate) == "38.1 % (18.1 %, 61.6 %)"
    assert estimate_cell(beyond) == "NE (NE, NE)"
    assert estimate_cell(nobody) == "–"
    assert count_pct(3, 40) == "3 (7.5)" and count_pct(0, 40) == "0"
    assert p_value(0.0004) == "< 0.001" and p_value(0.04321) == "0.043" and p_value(None) == "–"


def test_study_ids_become_safe_file_names():
    assert page_file_name("HCC-REGO-PD1") == "HCC-REGO-PD1.html"
    assert page_file_name("../x/y z") == "_x_y_z.html"


def test_inline_svg_has_page_unique_ids_and_leaves_data_text_alone():
    from trialdw.report.svg import plain, report_style, to_inline_svg

    @report_style
    def tiny_plot():
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.scatter([0.5], [0.5], marker="s")
        ax.set_title(plain('id="x" url(#y) <b> $z$'))
        return to_inline_svg(fig, "fig-t")

    svg = tiny_plot()
    assert svg.startswith('<svg role="img" aria-labelledby="fig-t-caption"')
    assert "xmlns" not in svg and "xlink" not in svg and "http" not in svg
    ids = re.findall(r'<[^>]*\sid="([^"]+)"', svg)
    refs = re.findall(r'<[^>]*(?:url\(#|href="#)([^)"]+)', svg)
    assert ids and all(i.startswith("fig-t-") for i in ids)
    assert refs and set(refs) <= set(ids)
    assert '>id="x" url(#y) &lt;b&gt; $z$</text>' in svg  # the title, as text, unchanged


def test_pages_written_across_processes_are_the_pages_written_in_one(warehouse, reports, tmp_path, monkeypatch):
    """With the studies shared out over the cores (trialdw.parallel: one page in a
    spawned child), every page is byte for byte the one-process page."""
    from trialdw import parallel

    if parallel.cores() < 2:
        pytest.skip("one core: everything runs in this process")
    monkeypatch.setattr(parallel, "MIN_ITEMS", 2)
    written = write_reports(warehouse, tmp_path, generated_at=GENERATED_AT)
    assert [p.name for p in written] == [reports[p.stem].name for p in written]
    for page in written:
        assert page.read_bytes() == reports[page.stem].read_bytes(), page.name


def test_a_large_study_s_cell_type_lines_are_one_embedded_image_per_panel_a_small_one_s_stay_vector():
    """From RASTER_FROM subjects a panel's subject lines and dots are one PNG
    (data: URI, which the page's policy allows); medians, axes and text stay
    SVG. Below it, nothing is rasterized."""
    import numpy as np

    from trialdw.report.celltype_plot import RASTER_FROM, celltype_svg

    def figure(subjects: int) -> str:
        rng = np.random.default_rng(3)
        paired = pd.DataFrame(
            [
                (f"S{i}", code, code, rng.uniform(0.01, 0.3), rng.uniform(0.01, 0.3))
                for code in ("TCELL", "BCELL")
                for i in range(subjects)
            ],
            columns=["USUBJID", "PARAMCD", "PARAM", "BASE", "AVAL"],
        )
        return celltype_svg(paired, pd.DataFrame({"CPTESTCD": [], "P_WILCOXON": []}), "f")

    large, small = figure(RASTER_FROM), figure(RASTER_FROM - 1)
    images = re.findall(r"<image\b[^>]*>", large)
    assert len(images) == 2 and all('href="data:image/png;base64,' in image for image in images)
    assert large.count("<use") < 50  # the medians' markers and the ticks, no dot per subject
    assert "<image" not in small and small.count("<use") > 4 * (RASTER_FROM - 1)  # a dot per subject and end
    assert f">n = {RASTER_FROM}, p = –<" in large  # text stays text
