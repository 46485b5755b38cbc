"""Proportion endpoints with exact Clopper–Pearson 95 % CIs.

Crude rates (PFS_RATE_3M, MORT_12M) and best-overall-response rates. Every
denominator is a population flag from ADSL; the numerator only ever counts
subjects of that population, each once.
"""

from __future__ import annotations

from .km import DAYS_PER_MONTH

METHOD = "Clopper-Pearson exact"
UNIT = "proportion"

# Seed 000: "progression-free and followed past 3 months": strictly more than
# 3 months, so AVAL = 91.3125 exactly does not count.
PFS_CRUDE_DAYS = 3 * DAYS_PER_MONTH  # 91.3125
# Seed 000 12-month mortality: death on or before 12 months (365.25 counts).
MORTALITY_DAYS = 12 * DAYS_PER_MONTH  # 365.25

# ENDPOINT → the ADRS parameter record that decides it and the AVALC values
# counted; denominator EFFFL. RSP and DCR are derived once, in dbt
# (int_rs_subject_parameters); here they are only counted.
RESPONSE_RATES = {
    "ORR": ("RSP", ("Y",)),
    "CRR": ("CBOR", ("CR",)),
    "PRR": ("CBOR", ("PR",)),
    "DCR": ("DCR", ("Y",)),
    "SD_RATE": ("CBOR", ("SD",)),
}


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """(k/n, LCL, UCL) with the exact binomial CI; all None when n = 0.

    scipy gives LCL 0 for k = 0 and UCL 1 for k = n, the exact interval's
    one-sided ends."""
    if n == 0:
        return None, None, None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return k / n, float(ci.low), float(ci.high)


def proportion_row(study: str, endpoint: str, population: str, k: int, n: int) -> dict:
    estimate, lcl, ucl = clopper_pearson(k, n)
    return {
        "STUDYID": study,
        "ENDPOINT": endpoint,
        "POPULATION": population,
        "N": n,
        "N_EVENTS": k if n else 0,
        "ESTIMATE": estimate,
        "LCL": lcl,
        "UCL": ucl,
        "UNIT": UNIT,
        "METHOD": METHOD,
    }


def _tte(data, paramcd: str, population: set[str]):
    tte = data.adtte
    if tte.empty:
        return tte
    return tte[(tte["PARAMCD"] == paramcd) & tte["USUBJID"].isin(population)]


def crude_rate_rows(data) -> list[dict]:
    """PFS_RATE_3M (EFFFL) and MORT_12M (ITTFL), as the seed protocol counts them."""
    eff = data.subjects("EFFFL")
    pfs = _tte(data, "PFS", eff)
    pfs_past_3m = set(pfs.loc[pfs["AVAL"] > PFS_CRUDE_DAYS, "USUBJID"]) if not pfs.empty else set()

    itt = data.subjects("ITTFL")
    os_ = _tte(data, "OS", itt)
    died_12m = set(os_.loc[(os_["CNSR"] == 0) & (os_["AVAL"] <= MORTALITY_DAYS), "USUBJID"]) if not os_.empty else set()
    return [
        proportion_row(data.study, "PFS_RATE_3M", "EFFFL", len(pfs_past_3m), len(eff)),
        proportion_row(data.study, "MORT_12M", "ITTFL", len(died_12m), len(itt)),
    ]


def response_count(data, endpoint: str) -> tuple[int, int]:
    """(responders, EFFFL subjects) for one of RESPONSE_RATES.

    An EFFFL subject without the parameter record stays in the denominator."""
    paramcd, values = RESPONSE_RATES[endpoint]
    eff = data.subjects("EFFFL")
    rs = data.adrs
    hits = set()
    if not rs.empty:
        records = rs[(rs["PARAMCD"] == paramcd) & rs["USUBJID"].isin(eff)]
        hits = set(records.loc[records["AVALC"].isin(values), "USUBJID"])
    return len(hits), len(eff)


def response_rate_rows(data) -> list[dict]:
    """ORR, CRR, PRR, DCR, SD_RATE from the ADRS parameter records RSP, DCR and
    CBOR (confirmed best overall response)."""
    return [
        proportion_row(data.study, endpoint, "EFFFL", *response_count(data, endpoint)) for endpoint in RESPONSE_RATES
    ]
