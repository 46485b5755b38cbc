"""The adverse-event table (TLF conventions), rendered by great-tables.

Rows: "Any TEAE", then each system organ class with its subjects n (%), and
beneath it its preferred terms with n (%); SOCs in decreasing order of subjects
(all arms together), terms likewise within their SOC. Each subject counts once
per row, at their worst grade (analysis.ae_by_soc for the any-TEAE and SOC
rows, analysis.ae_by_term for the terms). Column headers carry N, the safety
set of the column:
- one arm: "<arm> (N = …)" over Any grade, Grade 1–5, Grade ≥ 3, Serious, Related;
- randomised: one column group per arm and "Total", each "(N = …)" over Any
  grade and Grade ≥ 3.

great-tables escapes every text it is given (cells, stub, spanners, title) and
needs nothing from the network; its CSS is scoped to the table's id here
(great-tables 1.1 leaves two rules unscoped, which would restyle every other
table of the page).
"""

from __future__ import annotations

import re

import pandas as pd

from .formatting import count_pct, missing

TABLE_ID = "ae-table"
ANY_TEAE = "Any TEAE"
GRADES = (1, 2, 3, 4, 5)
FONT_STACK = ["DejaVu Sans", "Helvetica", "Arial", "sans-serif"]
SINGLE_ARM_COLUMNS = {
    "ANY_GRADE": "Any grade",
    **{f"G{g}": f"Grade {g}" for g in GRADES},
    "G3PLUS": "Grade ≥ 3",
    "SERIOUS": "Serious",
    "RELATED": "Related",
}
BY_ARM_COLUMNS = {"ANY_GRADE": "Any grade", "G3PLUS": "Grade ≥ 3"}


def _with_g3plus(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return table.assign(G3PLUS=pd.Series(dtype="int64"))
    return table.assign(G3PLUS=table[["G3", "G4", "G5"]].fillna(0).sum(axis=1))


def _key(value) -> str:
    return "\0" if missing(value) else str(value)


def table_rows(soc: pd.DataFrame, term: pd.DataFrame) -> list[tuple[str, str, str | None, str | None]]:
    """(kind, label, AEBODSYS, AEDECOD) in display order; kind 'any', 'soc' or 'pt'.
    `soc` and `term` are the all-subjects rows (ARMCD NULL), which decide the order."""
    rows = [("any", ANY_TEAE, None, None)]
    socs = soc[soc["AEBODSYS"].notna()].sort_values(["ANY_GRADE", "AEBODSYS"], ascending=[False, True])
    for name in socs["AEBODSYS"]:
        rows.append(("soc", name, name, None))
        terms = term[term["AEBODSYS"] == name].sort_values(["ANY_GRADE", "AEDECOD"], ascending=[False, True])
        rows += [("pt", t, name, t) for t in terms["AEDECOD"]]
    return rows


def _counts(soc: pd.DataFrame, term: pd.DataFrame, rows, columns) -> tuple[int, list[dict]]:
    """N of the group and, per display row, its cells 'n (%)' for `columns`."""
    any_row = soc[soc["AEBODSYS"].isna()]
    n = 0 if any_row.empty else int(any_row["N_SUBJECTS_SAF"].iloc[0])
    by_soc = {_key(r["AEBODSYS"]): r for _, r in soc[soc["AEBODSYS"].notna()].iterrows()}
    by_term = {(_key(r["AEBODSYS"]), _key(r["AEDECOD"])): r for _, r in term.iterrows()}
    cells = []
    for kind, _, soc_name, term_name in rows:
        if kind == "any":
            source = any_row.iloc[0] if not any_row.empty else None
        elif kind == "soc":
            source = by_soc.get(_key(soc_name))
        else:
            source = by_term.get((_key(soc_name), _key(term_name)))
        cells.append({c: count_pct(0 if source is None else source[c], n) for c in columns})
    return n, cells


def ae_table_html(groups: list[tuple[str, str, pd.DataFrame, pd.DataFrame]], *, randomised: bool) -> str:
    """`groups`: (column-group id, its name, its ae_by_soc rows, its ae_by_term rows),
    the all-subjects group last (its rows decide the order of the table rows)."""
    from great_tables import GT, loc, style

    columns = BY_ARM_COLUMNS if randomised else SINGLE_ARM_COLUMNS
    total_soc, total_term = _with_g3plus(groups[-1][2]), _with_g3plus(groups[-1][3])
    rows = table_rows(total_soc, total_term)
    frame = {"label": [label for _, label, _, _ in rows]}
    spanners = []
    for gid, name, soc, term in groups:
        n, cells = _counts(_with_g3plus(soc), _with_g3plus(term), rows, columns)
        for c in columns:
            frame[f"{gid}__{c}"] = [cell[c] for cell in cells]
        spanners.append((gid, f"{name} (N = {n})", [f"{gid}__{c}" for c in columns]))
    gt = GT(pd.DataFrame(frame), rowname_col="label", id=TABLE_ID)
    for gid, label, cols in spanners:
        gt = gt.tab_spanner(label=label, columns=cols, id=f"group-{gid}")
    labels = {f"{gid}__{c}": columns[c] for gid, _, cols in spanners for c in columns}
    bold = [i for i, (kind, *_) in enumerate(rows) if kind in ("any", "soc")]
    terms = [i for i, (kind, *_) in enumerate(rows) if kind == "pt"]
    gt = (
        gt.cols_label(**labels)
        .cols_align(align="right", columns=list(labels))
        .tab_stubhead(label="System organ class / preferred term")
        .tab_style(style=style.text(weight="bold"), locations=[loc.stub(rows=bold), loc.body(rows=bold)])
        .tab_style(style=style.text(whitespace="nowrap"), locations=loc.body())
        .tab_options(
            table_width="100%",
            table_font_size="0.85rem",
            table_font_names=FONT_STACK,
            data_row_padding="3px",
            column_labels_font_weight="bold",
            stub_indent_length="6px",
        )
    )
    if terms:
        gt = gt.tab_stub_indent(rows=terms, indent=3)
    return scoped_css(gt.as_raw_html(), TABLE_ID)


_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def scoped_css(html: str, table_id: str) -> str:
    """Prefix every selector of the table's <style> block that does not already
    start with '#<table_id>' (great-tables 1.1 writes `#id thead, tbody, tfoot,
    tr, td, th {…}` and ` tr {…}`, which would apply to the whole page)."""
    start, end = html.index("<style>") + len("<style>"), html.index("</style>")

    def scope(match: re.Match) -> str:
        selectors = [s.strip() for s in match.group(1).split(",")]
        scoped = [s if s.startswith(f"#{table_id}") else f"#{table_id} {s}" for s in selectors if s]
        return f"{', '.join(scoped)} {{{match.group(2)}}}\n"

    return html[:start] + "\n" + _RULE.sub(scope, html[start:end]) + html[end:]
