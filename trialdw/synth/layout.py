"""What a site export looks like: file columns, record keys, transfer cuts.

Transcribed from ``shared/spec/site-exports.md`` (the input spec). Column order
is the spec's order; the loader accepts any order, we keep the spec's so a
reviewer can compare a file with the spec line by line.
"""
from __future__ import annotations

import datetime as dt

DOMAIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "DM": ("STUDYID", "SITEID", "SUBJID", "USUBJID", "RFICDTC", "ENRLDTC", "BRTHDTC", "AGE",
           "SEX", "RACE", "ETHNIC", "COUNTRY", "ARMCD", "ARM", "DTHDTC", "DTHFL"),
    "SC": ("USUBJID", "SCTESTCD", "SCTEST", "SCORRES", "SCDTC"),
    "EX": ("USUBJID", "EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXDOSFRQ", "EXROUTE", "EXSTDTC",
           "EXENDTC"),
    "AE": ("USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESTDTC", "AEENDTC", "AETOXGR",
           "AESER", "AEREL", "AEACN", "AEOUT"),
    "TU": ("USUBJID", "TULNKID", "TUORRES", "TULOC", "TUMETHOD", "TUDTC", "VISIT"),
    "TR": ("USUBJID", "TRLNKID", "TRTESTCD", "TRORRES", "TRSTRESN", "TRSTRESU", "VISIT",
           "VISITNUM", "TRDTC"),
    "RS": ("USUBJID", "RSTESTCD", "RSSTRESC", "RSEVAL", "VISIT", "VISITNUM", "RSDTC"),
    "LB": ("USUBJID", "LBTESTCD", "LBSTRESN", "LBSTRESU", "LBSTNRLO", "LBSTNRHI", "VISIT",
           "LBDTC"),
    "DS": ("USUBJID", "DSCAT", "DSSCAT", "DSDECOD", "DSSTDTC"),
    "SS": ("USUBJID", "SSTESTCD", "SSSTRESC", "SSDTC"),
    "CP": ("USUBJID", "CPREFID", "CPSPEC", "VISIT", "VISITNUM", "CPTESTCD", "CPTEST", "CPSTRESN",
           "CPSTRESU", "CPMETHOD", "CPDTC"),
    "GF": ("USUBJID", "GFREFID", "VISIT", "VISITNUM", "GFCELLTY", "GFGENSY", "GFSTRESN",
           "GFSTRESU", "GFDTC"),
}

# The latest transfer is cut on 2026-11-19 at 02:00 UTC; earlier ones every
# TRANSFER_SPACING_DAYS before it. A record dated on the cut day itself is not
# in that transfer (the export ran at 02:00, before the day's data entry).
LATEST_CUT = dt.date(2026, 11, 19)
TRANSFER_SPACING_DAYS = 122   # about four months
EXPORT_TIME = "020000"

# Enrolment opens here; subjects are enrolled over ENROLMENT_DAYS.
STUDY_START = dt.date(2025, 1, 6)
ENROLMENT_DAYS = 300


def transfer_cuts(transfers: int) -> list[dt.date]:
    """Cut dates, earliest first; the last one is LATEST_CUT."""
    if transfers < 1:
        raise ValueError("transfers must be >= 1")
    return [LATEST_CUT - dt.timedelta(days=TRANSFER_SPACING_DAYS * k)
            for k in range(transfers - 1, -1, -1)]


def transfer_id(cut: dt.date) -> str:
    return f"{cut:%Y%m%d}T{EXPORT_TIME}Z"


def exported_at(cut: dt.date) -> str:
    return f"{cut:%Y-%m-%d}T02:00:00Z"
