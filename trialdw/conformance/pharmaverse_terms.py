"""How pharmaverse (CDISC pilot) SDTM values map onto our site-export codelists.

Every mapping the converter applies is a table here, so docs/conformance.md and
the code cannot drift apart. A value not listed is sent as it is (and our data
contracts decide whether it loads).
"""

from __future__ import annotations

# AESEV -> AETOXGR. CTCAE v5.0 defines grade 1 as "Mild", 2 as "Moderate" and
# 3 as "Severe or medically significant", so the pilot's severity words name the
# same grades. SDTM has no grade 4/5 word: a fatal AE (AEOUT FATAL) keeps grade 3
# and our contract's "grade 5 <=> FATAL" rule quarantines it (listed in the docs).
AESEV_TO_AETOXGR = {"MILD": "1", "MODERATE": "2", "SEVERE": "3"}

# AEREL: the pilot uses the older 4-point causality scale; each word has the
# same meaning as one of our 5 terms.
AEREL_TO_OURS = {
    "NONE": "NOT RELATED",
    "REMOTE": "UNLIKELY RELATED",
    "POSSIBLE": "POSSIBLY RELATED",
    "PROBABLE": "PROBABLY RELATED",
}

# TUMETHOD: SDTM "CT SCAN" is our "CT" (the only method in the RECIST add-on).
TUMETHOD_TO_OURS = {"CT SCAN": "CT", "MRI": "MRI"}

# DS: the pilot records one DISPOSITION EVENT per subject (study completion or
# discontinuation). Our DS needs DSSCAT; the pilot's event ends study
# participation, so it is our END OF STUDY record.
DS_DISPOSITION_DSSCAT = "END OF STUDY"

# Columns of ours that are optional and have no term for the pilot's value:
# ours is left empty and the SDTM value travels in an extra column
# SDTM_<COLUMN> (kept in raw.<domain>._extra, one warning per file).
# EXROUTE: the xanomeline/placebo patch is TRANSDERMAL, not in our codelist.
KEPT_AS_EXTRA = {"EX": ("EXROUTE",)}


# Evaluators: TU/TR of our spec carry no evaluator, so only the investigator's
# records are sent. RS keeps the investigator and, for the blinded independent
# review, only the adjudicated record (RSACPTFL = Y) of the two radiologists,
# because our RS key (USUBJID, RSTESTCD, RSEVAL, VISITNUM) has no reader.
INVESTIGATOR = "INVESTIGATOR"
INDEPENDENT = "INDEPENDENT ASSESSOR"
