"""The report's HTML tables. Every data value passes through ``esc``."""

from __future__ import annotations

import html

import pandas as pd

from .formatting import DASH, count_pct, estimate_cell, missing, p_value

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
GRADES = (1, 2, 3, 4, 5)


def esc(value) -> str:
    """HTML text of a data value; NULL shows as a dash."""
    return DASH if missing(value) else html.escape(str(value), quote=True)


def _table(table_id: str, caption: str, head: list[str], body: list[str]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    return (
        f'<table id="{table_id}"><caption>{caption}</caption>'
        f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


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


def ae_table(ae: pd.DataFrame) -> str:
    """SOC rows (bold, ordered by subjects with any grade) with their preferred
    terms beneath; counts are subjects by worst grade, n (% of the safety set)."""
    head = [
        "System organ class / preferred term",
        "Any grade",
        *(f"Grade {g}" for g in GRADES),
        "Grade ≥ 3",
        "Serious",
        "Related",
    ]
    if ae.empty:
        return _table("ae-table", "Treatment-emergent adverse events: none recorded.", head, [])
    denominator = ae["N_SUBJECTS_SAF"].iloc[0]
    ae = ae.assign(G3PLUS=ae[["G3", "G4", "G5"]].fillna(0).sum(axis=1))
    soc_order = (
        ae.groupby("AEBODSYS", dropna=False)["ANY_GRADE"]
        .max()
        .reset_index()
        .sort_values(["ANY_GRADE", "AEBODSYS"], ascending=[False, True])
    )
    body = []
    for soc in soc_order["AEBODSYS"]:
        terms = ae[ae["AEBODSYS"] == soc] if not missing(soc) else ae[ae["AEBODSYS"].isna()]
        body.append(f'<tr class="soc"><td colspan="{len(head)}">{esc(soc)}</td></tr>')
        for _, r in terms.sort_values(["ANY_GRADE", "AEDECOD"], ascending=[False, True]).iterrows():
            cells = [r["ANY_GRADE"], *(r[f"G{g}"] for g in GRADES), r["G3PLUS"], r["SERIOUS"], r["RELATED"]]
            body.append(
                f'<tr><td class="pt">{esc(r["AEDECOD"])}</td>'
                + "".join(f'<td class="num">{esc(count_pct(c, denominator))}</td>' for c in cells)
                + "</tr>"
            )
    caption = (
        f"Treatment-emergent adverse events by system organ class and preferred term "
        f"(analysis.ae_by_term): subjects, n (%), by their worst grade (CTCAE v5.0); "
        f"safety set N = {esc(denominator)}."
    )
    return _table("ae-table", caption, head, body)


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
