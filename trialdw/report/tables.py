"""The report's HTML tables. Every data value passes through ``esc``."""

from __future__ import annotations

import html

import pandas as pd

from .formatting import DASH, comparison_cell, estimate_cell, missing, p_value

ENDPOINT_LABELS = {
    "PFS_MEDIAN": "Median progression-free survival (months)",
    "PFS_RATE_3M_KM": "PFS rate at 3 months (Kaplan–Meier)",
    "PFS_RATE_3M": "Progression-free and followed > 3 months (crude)",
    "OS_MEDIAN": "Median overall survival (months)",
    "OS_RATE_12M_KM": "OS rate at 12 months (Kaplan–Meier)",
    "MORT_12M": "Died within 12 months (crude)",
    "DOR_MEDIAN": "Median duration of response (months)",
    "ORR": "Objective response rate (confirmed CR + PR)",
    "CRR": "Complete response rate",
    "PRR": "Partial response rate",
    "DCR": "Disease control rate (CR + PR + SD)",
    "SD_RATE": "Stable disease rate",
    "AE_ANY": "Any treatment-emergent AE",
    "AE_G3": "TEAE grade ≥ 3",
    "AE_SER": "Serious TEAE",
    "AE_DISC": "TEAE leading to drug withdrawal",
    "AE_FATAL": "Fatal TEAE (grade 5)",
    "ADR_ANY": "Any adverse drug reaction",
    "ADR_G3": "Adverse drug reaction grade ≥ 3",
}
COMPARISON_LABELS = {
    "PFS_HR": "PFS hazard ratio vs reference",
    "PFS_LOGRANK_P": "PFS log-rank test, all arms (p)",
    "OS_HR": "OS hazard ratio vs reference",
    "OS_LOGRANK_P": "OS log-rank test, all arms (p)",
    "ORR_DIFF": "ORR difference vs reference (percentage points)",
    "DCR_DIFF": "DCR difference vs reference (percentage points)",
}


def esc(value) -> str:
    """HTML text of a data value; NULL shows as a dash."""
    return DASH if missing(value) else html.escape(str(value), quote=True)


def _table(table_id: str, caption: str, head: list[str], body: list[str]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    return (
        f'<table id="{table_id}"><caption>{caption}</caption>'
        f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def endpoints_by_arm_table(endpoints: pd.DataFrame, arms: tuple[tuple[str, str], ...]) -> str:
    """Randomised study: one row per endpoint, one column per arm and one for all
    subjects; a cell is the estimate (95 % CI) over [n/N]."""
    groups = [*arms, (None, "All subjects")]
    rows_of = {
        armcd: {r["ENDPOINT"]: r for _, r in endpoints[_arm_mask(endpoints, armcd)].iterrows()} for armcd, _ in groups
    }
    head = ["Endpoint", "Population", *(esc(name) for _, name in groups)]
    body = []
    for endpoint in ENDPOINT_LABELS:
        found = [rows_of[a][endpoint] for a, _ in groups if endpoint in rows_of[a]]
        cells = []
        for armcd, _ in groups:
            r = rows_of[armcd].get(endpoint)
            counts = "" if r is None else f'<br><span class="code">[{_count(r["N_EVENTS"])}/{_count(r["N"])}]</span>'
            cells.append(f'<td class="num">{esc(None if r is None else estimate_cell(r))}{counts}</td>')
        body.append(
            f'<tr data-endpoint="{esc(endpoint)}"><td>{esc(ENDPOINT_LABELS[endpoint])}<br>'
            f'<span class="code">{esc(endpoint)}</span></td><td>{esc(found[0]["POPULATION"] if found else None)}</td>'
            + "".join(cells)
            + "</tr>"
        )
    caption = (
        "Endpoints by arm (analysis.endpoints). Months: median (95 % CI), NR = not reached; "
        "proportions: % (exact 95 % CI), NE = not estimable; [n/N]: events (time to event) or "
        "subjects counted / subjects analysed."
    )
    return _table("endpoints-table", caption, head, body)


def comparisons_table(endpoints: pd.DataFrame, arms: tuple[tuple[str, str], ...]) -> str:
    """The between-arm comparison rows of a randomised study."""
    names = dict(arms)
    comparisons = endpoints[endpoints["ENDPOINT"].isin(COMPARISON_LABELS)]
    head = ["Comparison", "Arms", "Population", "N", "Events / responders", "Estimate (95 % CI)", "Method"]
    body = []
    for _, r in comparisons.iterrows():
        arm, reference = (names.get(r[c], r[c]) for c in ("ARMCD", "REF_ARMCD"))
        arms_text = "all arms" if missing(r["ARMCD"]) else f"{arm} vs {reference}"
        body.append(
            f'<tr data-endpoint="{esc(r["ENDPOINT"])}"><td>{esc(COMPARISON_LABELS[r["ENDPOINT"]])}</td>'
            f"<td>{esc(arms_text)}</td><td>{esc(r['POPULATION'])}</td>"
            f'<td class="num">{esc(r["N"])}</td><td class="num">{esc(r["N_EVENTS"])}</td>'
            f'<td class="num">{esc(comparison_cell(r))}</td><td>{esc(r["METHOD"])}</td></tr>'
        )
    caption = (
        "Comparisons with the reference arm (analysis.endpoints): hazard ratio (Cox, Efron ties, "
        "Wald 95 % CI; < 1 favours the arm), difference in proportions in percentage points "
        "(Newcombe 95 % CI), and the log-rank test over all arms. NE: not estimable (an arm "
        "without an event). p values are not adjusted for multiplicity."
    )
    return _table("comparisons-table", caption, head, body)


def _arm_mask(table: pd.DataFrame, armcd: str | None) -> pd.Series:
    base = ~table["ENDPOINT"].isin(COMPARISON_LABELS)
    return base & (table["ARMCD"].isna() if armcd is None else table["ARMCD"] == armcd)


def _count(value) -> str:
    return DASH if missing(value) else str(int(value))


def endpoints_table(endpoints: pd.DataFrame) -> str:
    head = ["Endpoint", "Definition", "Population", "N", "n / events", "Estimate (95 % CI)", "Method"]
    body = []
    for _, r in endpoints.iterrows():
        body.append(
            f'<tr data-endpoint="{esc(r["ENDPOINT"])}"><td class="code">{esc(r["ENDPOINT"])}</td>'
            f"<td>{esc(ENDPOINT_LABELS.get(r['ENDPOINT'], ''))}</td><td>{esc(r['POPULATION'])}</td>"
            f'<td class="num">{esc(r["N"])}</td><td class="num">{esc(r["N_EVENTS"])}</td>'
            f'<td class="num">{esc(estimate_cell(r))}</td><td>{esc(r["METHOD"])}</td></tr>'
        )
    caption = (
        "Endpoints (analysis.endpoints). Months: median (95 % CI), NR = not reached; "
        "proportions: % (exact 95 % CI), NE = not estimable."
    )
    return _table("endpoints-table", caption, head, body)


def celltype_table(change: pd.DataFrame, names: dict[str, str]) -> str:
    head = [
        "Cell type",
        "Pairs",
        "Median baseline (%)",
        "Median on treatment (%)",
        "Median change (points)",
        "Wilcoxon p",
    ]
    body = []
    for _, r in change.iterrows():
        pct = [DASH if missing(r[c]) else f"{100 * r[c]:.1f}" for c in ("MEDIAN_BASE", "MEDIAN_POST")]
        chg = DASH if missing(r["MEDIAN_CHG"]) else f"{100 * r['MEDIAN_CHG']:+.1f}"
        name = names.get(r["CPTESTCD"], r["CPTESTCD"])
        body.append(
            f'<tr><td>{esc(name)} <span class="code">{esc(r["CPTESTCD"])}</span></td>'
            f'<td class="num">{esc(r["N_PAIRS"])}</td><td class="num">{esc(pct[0])}</td>'
            f'<td class="num">{esc(pct[1])}</td><td class="num">{esc(chg)}</td>'
            f'<td class="num">{esc(p_value(r["P_WILCOXON"]))}</td></tr>'
        )
    caption = (
        "Cell-type proportions, paired baseline vs on treatment (analysis.celltype_change); "
        "two-sided Wilcoxon signed-rank test, not adjusted for multiplicity."
    )
    return _table("celltype-table", caption, head, body)
