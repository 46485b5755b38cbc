"""Per-study HTML reports with plots, from a built warehouse (read-only).

``write_reports(db_path, out_dir)`` writes ``<out_dir>/<STUDYID>.html`` for every
study and an ``index.html`` linking them. Each page is self-contained (inline
CSS and SVG, no scripts, no network) and shows: the endpoints table, KM plots
for PFS, OS and DOR with numbers at risk, a waterfall plot of best % change in
target-lesion sum, a swimmer plot, the AE table and, for single-cell studies,
paired cell-type plots and their table. What each plot shows and why:
docs/report.md.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from . import celltype_plot, km_plot, swimmer, waterfall
from .ae_table import ae_table_html
from .data import StudyReportData, all_study_ids, read_listings, read_warehouse
from .formatting import comparison_cell
from .page import document, figure, header, index_page
from .tables import celltype_table, comparisons_table, endpoints_by_arm_table, endpoints_table, esc

KM_ORDER = ("PFS", "OS", "DOR")
MEDIAN_ENDPOINT = {"PFS": "PFS_MEDIAN", "OS": "OS_MEDIAN", "DOR": "DOR_MEDIAN"}
HAZARD_RATIO = {"PFS": "PFS_HR", "OS": "OS_HR"}
LOGRANK = {"PFS": "PFS_LOGRANK_P", "OS": "OS_LOGRANK_P"}
KM_ABSENT = {
    "PFS": "No subjects in the PFS analysis set (EFFFL).",
    "OS": "No subjects in the OS analysis set (ITTFL).",
    "DOR": "No confirmed responders, so no duration of response to plot.",
}


def page_file_name(study: str) -> str:
    """<STUDYID>.html; characters that are not safe in a file name become '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", study).lstrip(".") + ".html"


def _km_section(data: StudyReportData) -> str:
    if data.randomised:
        return _km_by_arm_section(data)
    parts = []
    curves = data.all_subjects(data.km_curves)
    for paramcd in KM_ORDER:
        curve = curves[curves["PARAMCD"] == paramcd] if not curves.empty else curves
        median = _endpoint(data, MEDIAN_ENDPOINT[paramcd])
        svg = km_plot.km_svg(paramcd, curve, median, f"fig-km-{paramcd.lower()}") if not curve.empty else None
        caption = (
            f"Kaplan–Meier estimate of {esc(km_plot.TITLES[paramcd].lower())} with its pointwise 95 % "
            "confidence band (log-log); ticks mark censored subjects; dashed line at 50 %. "
            "Source: analysis.km_curves."
        )
        parts.append(figure(f"fig-km-{paramcd.lower()}", svg, caption, KM_ABSENT[paramcd]))
    return "".join(parts)


def _comparison_line(data: StudyReportData, paramcd: str) -> str:
    """'HR vs Placebo: Low 0.72 (0.06, 8.10); High NE · log-rank p = 0.517' for a legend."""
    if paramcd not in HAZARD_RATIO or data.endpoints.empty:
        return ""
    names = dict(data.arms)
    rows = data.endpoints
    ratios = rows[rows["ENDPOINT"] == HAZARD_RATIO[paramcd]]
    parts = [f"{names.get(r['ARMCD'], r['ARMCD'])} {comparison_cell(r)}" for _, r in ratios.iterrows()]
    text = ""
    if parts:
        reference = names.get(ratios["REF_ARMCD"].iloc[0], ratios["REF_ARMCD"].iloc[0])
        text = f"HR vs {reference}: " + "; ".join(parts)
    logrank = rows[rows["ENDPOINT"] == LOGRANK[paramcd]]
    if not logrank.empty:
        text += f"  ·  log-rank p = {comparison_cell(logrank.iloc[0])}"
    return text


def _km_by_arm_section(data: StudyReportData) -> str:
    parts = []
    for paramcd in KM_ORDER:
        fig_id = f"fig-km-{paramcd.lower()}"
        arms = []
        for armcd, name in data.arms:
            curves = data.of_arm(data.km_curves, armcd)
            curve = curves[curves["PARAMCD"] == paramcd] if not curves.empty else curves
            arms.append((name, curve, _endpoint(data, MEDIAN_ENDPOINT[paramcd], armcd)))
        drawn = any(not curve.empty for _, curve, _ in arms)
        svg = km_plot.km_svg_by_arm(paramcd, arms, _comparison_line(data, paramcd), fig_id) if drawn else None
        caption = (
            f"Kaplan–Meier estimate of {esc(km_plot.TITLES[paramcd].lower())} by arm (one line per arm; "
            "the 95 % bands, log-log, are in analysis.km_curves); ticks mark censored subjects; dashed "
            "line at 50 %; numbers at risk per arm below. Hazard ratios: Cox, Efron ties, vs the "
            "reference arm; log-rank test over all arms. Source: analysis.km_curves, analysis.endpoints."
        )
        parts.append(figure(fig_id, svg, caption, KM_ABSENT[paramcd]))
    return "".join(parts)


def _endpoint(data: StudyReportData, name: str, armcd: str | None = None):
    if data.endpoints.empty:
        return None
    rows = data.all_subjects(data.endpoints) if armcd is None else data.of_arm(data.endpoints, armcd)
    rows = rows[rows["ENDPOINT"] == name]
    return rows.iloc[0] if not rows.empty else None


def _endpoints_section(data: StudyReportData) -> str:
    if not data.randomised:
        return endpoints_table(data.all_subjects(data.endpoints))
    return endpoints_by_arm_table(data.endpoints, data.arms) + comparisons_table(data.endpoints, data.arms)


def _ae_section(data: StudyReportData) -> str:
    soc, term = data.ae_by_soc, data.ae_by_term
    if soc.empty and term.empty:
        return '<p class="absent" id="ae-table">Treatment-emergent adverse events: none recorded.</p>'
    if data.randomised:
        groups = [
            (f"arm{k}", name, data.of_arm(soc, armcd), data.of_arm(term, armcd))
            for k, (armcd, name) in enumerate(data.arms, start=1)
        ]
        groups.append(("total", "Total", data.all_subjects(soc), data.all_subjects(term)))
    else:
        name = data.arms[0][1] if data.arms else "All subjects"
        groups = [("all", name, data.all_subjects(soc), data.all_subjects(term))]
    caption = (
        '<p class="table-caption" id="ae-table-caption">Treatment-emergent adverse events by system organ '
        "class and preferred term: subjects with at least one such event, n (% of the column's safety set "
        "N), each subject once per row at their worst grade (CTCAE v5.0); grade ≥ 3 = grades 3–5. "
        "Source: analysis.ae_by_soc (any TEAE, SOC rows) and analysis.ae_by_term (preferred terms).</p>"
    )
    return caption + ae_table_html(groups, randomised=data.randomised)


def _response_section(data: StudyReportData) -> str:
    if data.target_sums is None:
        waterfall_html = figure(
            "fig-waterfall",
            None,
            "",
            "Waterfall plot not drawn: this warehouse has no intermediate.int_tr_target_sums (built by dbt).",
        )
    else:
        best = waterfall.best_percent_change(data.target_sums, data.adsl, data.adrs)
        efficacy = int((data.adsl["EFFFL"] == "Y").sum()) if not data.adsl.empty else 0
        caption = (
            f"Each bar is one subject's smallest % change from baseline in the sum of target-lesion "
            f"diameters, over assessments with every target lesion measured, up to the first "
            f"progression; colour = confirmed best overall response (CBOR). Dashed lines: +20 % "
            f"(progression threshold) and −30 % (partial-response threshold). "
            f"{efficacy - len(best)} of {efficacy} efficacy-evaluable subjects have no such "
            f"assessment and are not shown."
        )
        svg = waterfall.waterfall_svg(best, "fig-waterfall") if not best.empty else None
        waterfall_html = figure(
            "fig-waterfall",
            svg,
            caption,
            "No efficacy-evaluable subject has a complete post-baseline tumour assessment yet.",
        )
    lanes = swimmer.swimmer_lanes(data.adsl, data.adrs)
    drawn = swimmer.drawn_lanes(lanes)
    caption = (
        "Bars: first to last dose (ADSL TRTSDT–TRTEDT); arrow: treatment ongoing. Markers: first CR "
        "and first PR (investigator overall response, analysis window), first progression, death; "
        "markers beyond a bar happened after the last dose."
    )
    if len(drawn) < len(lanes):
        caption += (
            f" Shown: the {len(drawn)} subjects longest on treatment of {len(lanes)} dosed; the other "
            f"{len(lanes) - len(drawn)} are not drawn (one lane each would not be readable); adam.adsl and "
            "adam.adrs hold every subject."
        )
    svg = swimmer.swimmer_svg(drawn, "fig-swimmer") if not drawn.empty else None
    return waterfall_html + figure("fig-swimmer", svg, caption, "No dosed subjects.")


def _single_cell_section(data: StudyReportData) -> str:
    paired = celltype_plot.celltype_pairs(data.adcp)
    caption = (
        "One line per subject: proportion of the cell type among all cells of the baseline sample "
        "and of the first on-treatment sample (adam.adcp); red: medians. p: Wilcoxon signed-rank, "
        "two-sided, from analysis.celltype_change."
    )
    svg = celltype_plot.celltype_svg(paired, data.celltype_change, "fig-celltype") if not paired.empty else None
    names = dict(zip(paired["PARAMCD"], paired["PARAM"], strict=False)) if not paired.empty else {}
    return figure(
        "fig-celltype", svg, caption, "No subject has both a baseline and an on-treatment sample."
    ) + celltype_table(data.celltype_change, names)


def study_page(data: StudyReportData, generated_at: dt.datetime, source_name: str) -> str:
    sections = [
        ("endpoints", "Endpoints", _endpoints_section(data)),
        ("time-to-event", "Time to event", _km_section(data)),
        ("response", "Tumour response", _response_section(data)),
        ("safety", "Adverse events", _ae_section(data)),
    ]
    if data.single_cell:
        sections.append(("single-cell", "Single-cell: cell-type proportions", _single_cell_section(data)))
    nav = "<nav>" + "".join(f'<a href="#{sid}">{title}</a>' for sid, title, _ in sections) + "</nav>"
    body = (
        header(data, generated_at, source_name)
        + nav
        + "".join(f'<section id="{sid}"><h2>{title}</h2>{content}</section>' for sid, title, content in sections)
    )
    body += (
        "<footer>Statistics are those of the warehouse's analysis tables; this page derives only the "
        "waterfall best % change, the swimmer timelines and the AE grade ≥ 3 columns (sum of the worst-grade "
        "3, 4 and 5 counts) — see docs/report.md.</footer>"
    )
    return document(f"{data.study} – study report", body)


def write_reports(
    db_path: Path, out_dir: Path, *, generated_at: dt.datetime | None = None, studies: list[str] | None = None
) -> list[Path]:
    """Write one HTML page per study plus index.html into `out_dir`; return the
    paths written (study pages in STUDYID order, then the index).

    ``studies``: write pages for these only (the night's rebuilt studies; the
    other pages in ``out_dir`` are carried over) — the index still lists every
    study of the file that has a page."""
    from trialdw.parallel import map_shares
    from trialdw.warehouse import adam_rows_by_study

    generated_at = generated_at or dt.datetime.now(dt.UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = sorted(set(studies)) if studies is not None else all_study_ids(Path(db_path))
    # Pages are matplotlib-bound: the studies are shared out over the cores (trialdw.parallel),
    # the largest first.
    rows = adam_rows_by_study(Path(db_path)) if len(wanted) > 1 else {}
    shares = map_shares(_write_pages, wanted, Path(db_path), out_dir, generated_at, size=lambda s: rows.get(s, 0))
    order = {page_file_name(study): i for i, study in enumerate(wanted)}
    written = sorted((path for share in shares for path in share), key=lambda p: order[p.name])
    if studies is not None:
        return written
    return [*written, write_index(db_path, out_dir, generated_at=generated_at)]


def _write_pages(studies: list[str], db_path: Path, out_dir: Path, generated_at: dt.datetime) -> list[Path]:
    """The pages of ``studies`` (one share of write_reports' studies, maybe in a child process)."""
    written = []
    for data in read_warehouse(db_path, studies):
        path = out_dir / page_file_name(data.study)
        path.unlink(missing_ok=True)  # a carried-over folder may hold last night's page as a hard link
        path.write_text(study_page(data, generated_at, db_path.name), encoding="utf-8")
        written.append(path)
    return written


def write_index(db_path: Path, out_dir: Path, *, generated_at: dt.datetime | None = None) -> Path:
    """index.html listing every study of the file (configured or with subjects)
    that has a page in `out_dir`; pages of studies the file no longer has go."""
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    out_dir = Path(out_dir)
    listed = []
    for listing in read_listings(Path(db_path)):
        page = out_dir / page_file_name(listing.study)
        if page.is_file():
            listed.append((listing, page.name))
    keep = {name for _, name in listed} | {"index.html"}
    for stale in out_dir.glob("*.html"):
        if stale.name not in keep:
            stale.unlink()
    index = out_dir / "index.html"
    index.unlink(missing_ok=True)
    lineage = out_dir.parent / "lineage" / "index.html"  # the night's dbt docs (flows/nightly.py)
    link = "../lineage/index.html" if lineage.is_file() else None
    index.write_text(index_page(listed, generated_at, link), encoding="utf-8")
    return index


__all__ = ["page_file_name", "write_index", "write_reports"]
