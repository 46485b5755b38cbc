"""Adverse-event incidence: AE_*/ADR_* endpoints and analysis.ae_by_term.

Both count treatment-emergent AEs (ADAE TRTEMFL = 'Y') of SAFFL subjects, and
each subject once: incidence is "subjects with at least one such event".
"""

from __future__ import annotations

import pandas as pd

from .proportions import proportion_row

# ENDPOINT → which TEAEs count (applied to the SAFFL subjects' TEAE rows).
AE_ENDPOINTS = {
    "AE_ANY": lambda ae: pd.Series(True, index=ae.index),
    "AE_G3": lambda ae: ae["ATOXGR"] >= 3,
    "AE_SER": lambda ae: ae["AESER"] == "Y",
    "AE_DISC": lambda ae: ae["AEACN"] == "DRUG WITHDRAWN",
    "AE_FATAL": lambda ae: ae["ATOXGR"] == 5,
    "ADR_ANY": lambda ae: ae["ADRFL"] == "Y",
    "ADR_G3": lambda ae: (ae["ADRFL"] == "Y") & (ae["ATOXGR"] >= 3),
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


def by_term_rows(data) -> list[dict]:
    """One row per (AEBODSYS, AEDECOD) with subject counts.

    G1..G5: each subject once, at the worst grade of their TEAEs with that term
    (a subject whose events of the term all lack a grade is in ANY_GRADE only).
    SERIOUS / RELATED: subjects with at least one serious / ADRFL = 'Y' event of
    the term. N_SUBJECTS_SAF is the SAFFL denominator for percentages."""
    teae = safety_teaes(data)
    if teae.empty:
        return []
    n_saf = len(data.subjects("SAFFL"))
    rows = []
    for (soc, term), events in teae.groupby(["AEBODSYS", "AEDECOD"], sort=True, dropna=False):
        worst = events.groupby("USUBJID")["ATOXGR"].max()
        row = {"STUDYID": data.study, "AEBODSYS": soc, "AEDECOD": term, "N_SUBJECTS_SAF": n_saf}
        row.update({f"G{g}": int((worst == g).sum()) for g in GRADES})
        row["ANY_GRADE"] = int(events["USUBJID"].nunique())
        row["SERIOUS"] = int(events.loc[events["AESER"] == "Y", "USUBJID"].nunique())
        row["RELATED"] = int(events.loc[events["ADRFL"] == "Y", "USUBJID"].nunique())
        rows.append(row)
    return rows
