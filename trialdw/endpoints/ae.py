"""Adverse-event incidence: AE_*/ADR_* endpoints, analysis.ae_by_term and
analysis.ae_by_soc.

All count treatment-emergent AEs (ADAE TRTEMFL = 'Y') of SAFFL subjects, and
each subject once per row: incidence is "subjects with at least one such event".
Grades are compared as numbers (ADAE ATOXGRN; ATOXGR is its text).
"""

from __future__ import annotations

import pandas as pd

from .proportions import proportion_row

# ENDPOINT → which TEAEs count (applied to the SAFFL subjects' TEAE rows).
AE_ENDPOINTS = {
    "AE_ANY": lambda ae: pd.Series(True, index=ae.index),
    "AE_G3": lambda ae: ae["ATOXGRN"] >= 3,
    "AE_SER": lambda ae: ae["AESER"] == "Y",
    "AE_DISC": lambda ae: ae["AEACN"] == "DRUG WITHDRAWN",
    "AE_FATAL": lambda ae: ae["ATOXGRN"] == 5,
    "ADR_ANY": lambda ae: ae["ADRFL"] == "Y",
    "ADR_G3": lambda ae: (ae["ADRFL"] == "Y") & (ae["ATOXGRN"] >= 3),
}

GRADES = (1, 2, 3, 4, 5)


def safety_teaes(data) -> pd.DataFrame:
    """TEAE rows of SAFFL subjects (the one place the AE analysis set is defined)."""
    ae = data.adae
    if ae.empty:
        return ae
    return ae[(ae["TRTEMFL"] == "Y") & ae["USUBJID"].isin(data.subjects("SAFFL"))]


def endpoint_rows(data) -> list[dict]:
    n_saf = len(data.subjects("SAFFL"))
    teae = safety_teaes(data)
    rows = []
    for endpoint, counts in AE_ENDPOINTS.items():
        # A missing grade/flag is not a hit (fillna), never an error.
        k = teae.loc[counts(teae).fillna(False).astype(bool), "USUBJID"].nunique() if not teae.empty else 0
        rows.append(proportion_row(data.study, endpoint, "SAFFL", int(k), n_saf))
    return rows


def subject_counts(events: pd.DataFrame) -> dict:
    """Subjects among `events` (TEAE rows): G1..G5 each subject once, at the worst
    grade of these events (a subject whose events all lack a grade is in
    ANY_GRADE only); ANY_GRADE; SERIOUS / RELATED: subjects with at least one
    serious / ADRFL = 'Y' event."""
    worst = events.groupby("USUBJID")["ATOXGRN"].max() if not events.empty else pd.Series(dtype=float)
    counts = {f"G{g}": int((worst == g).sum()) for g in GRADES}
    counts["ANY_GRADE"] = int(events["USUBJID"].nunique()) if not events.empty else 0
    counts["SERIOUS"] = int(events.loc[events["AESER"] == "Y", "USUBJID"].nunique()) if not events.empty else 0
    counts["RELATED"] = int(events.loc[events["ADRFL"] == "Y", "USUBJID"].nunique()) if not events.empty else 0
    return counts


def by_term_rows(data) -> list[dict]:
    """One row per (AEBODSYS, AEDECOD) with subject counts (``subject_counts``
    over the term's TEAEs). N_SUBJECTS_SAF is the SAFFL denominator for
    percentages."""
    teae = safety_teaes(data)
    if teae.empty:
        return []
    n_saf = len(data.subjects("SAFFL"))
    rows = []
    for (soc, term), events in teae.groupby(["AEBODSYS", "AEDECOD"], sort=True, dropna=False):
        row = {"STUDYID": data.study, "AEBODSYS": soc, "AEDECOD": term, "N_SUBJECTS_SAF": n_saf}
        row.update(subject_counts(events))
        rows.append(row)
    return rows


def by_soc_rows(data) -> list[dict]:
    """The totals an AE table needs above its terms, which cannot be summed from
    ae_by_term (one subject can have several terms):
      1. the any-TEAE row (AEBODSYS NULL): ``subject_counts`` over every TEAE,
         always written, so the table has its N even when nobody had a TEAE;
      2. one row per AEBODSYS with a TEAE: ``subject_counts`` over its TEAEs
         (each subject once, at their worst grade within the SOC)."""
    teae = safety_teaes(data)
    n_saf = len(data.subjects("SAFFL"))
    rows = [{"STUDYID": data.study, "AEBODSYS": None, "N_SUBJECTS_SAF": n_saf, **subject_counts(teae)}]
    if not teae.empty:
        for soc, events in teae.groupby("AEBODSYS", sort=True, dropna=False):
            rows.append({"STUDYID": data.study, "AEBODSYS": soc, "N_SUBJECTS_SAF": n_saf, **subject_counts(events)})
    return rows
