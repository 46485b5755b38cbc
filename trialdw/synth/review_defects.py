"""Deliberate *data-review* defects: records each valid on its own, inconsistent together.

Row defects (``defects.py``) break a rule of one row and are quarantined at
load. These do not: every edited row passes the data contracts and is loaded;
the nightly data review (dbt ``data_review.findings``, CATEGORY ``review`` in
``audit.findings``) is what notices them, by comparing records across domains.

They are planted only in the latest transfer, so the review page shows them as
new, at the first site of a study, on the first qualifying subject in roster
order (never the subject that carries the invalid-SEX row defect).

- ``ovr_vs_recist``: at one assessment the investigator reads PR (OVRLRESP and
  TRGRESP) where the target sum gives SD. Chosen mild: an SD scan directly
  followed by a real PR, with no CR/PR before it and at least two CR/PR after
  it, so the course stays possible (SD -> PR becomes PR -> PR, the response
  read one scan early), the planted PR is never the subject's only response
  and the (confirmed) best response does not change.
- ``death_date_disagreement``: the END OF STUDY DS DEATH date is one day after
  DM DTHDTC (the day death was reported taken for the day it happened). ADSL
  keeps DM's date (int_subject_death), so no analysis date moves.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from trialdw.synth.records import Record

REVIEW = "review"  # Defect.category of these defects, as in audit.findings.CATEGORY

Mutate = Callable[[dict[str, str]], list[dict[str, str]]]


@dataclass(frozen=True)
class PlannedEdit:
    """One record a review defect edits, how, and how the summary describes it."""

    record: Record
    column: str
    description: str
    mutate: Mutate


@dataclass(frozen=True)
class ReviewDefectSpec:
    rule: str  # the review rule expected (data_review_findings.sql)
    studies: tuple[str, ...] | None  # None = every study
    choose: Callable[[list[Record], dt.date], list[PlannedEdit]]  # [] when the subject does not qualify

    def applies_to(self, study: str) -> bool:
        return self.studies is None or study in self.studies


def _visible(records: list[Record], cut: dt.date, domain: str) -> list[tuple[Record, dict[str, str]]]:
    return [(r, row) for r in records if r.domain == domain and (row := r.as_of(cut)) is not None]


def _read_as_pr(row: dict[str, str]) -> list[dict[str, str]]:
    return [{**row, "RSSTRESC": "PR"}]


def choose_sd_read_as_pr(records: list[Record], latest_cut: dt.date) -> list[PlannedEdit]:
    """The first SD assessment directly followed by a PR, with no CR/PR before it and >= 2 after it."""
    by_visit: dict[float, dict[str, Record]] = {}
    for record, row in _visible(records, latest_cut, "RS"):
        if row["RSEVAL"] == "INVESTIGATOR":
            by_visit.setdefault(float(row["VISITNUM"]), {})[row["RSTESTCD"]] = record
    visits = sorted(by_visit)
    for this, following in itertools.pairwise(visits):
        now, then = by_visit[this], by_visit[following]
        ovr = {v: by_visit[v]["OVRLRESP"].row["RSSTRESC"] for v in visits if "OVRLRESP" in by_visit[v]}
        earlier = {r for v, r in ovr.items() if v < this}
        responses_after = [r for v, r in ovr.items() if v > this and r in ("CR", "PR")]
        if (
            "TRGRESP" in now
            and "OVRLRESP" in now
            and "OVRLRESP" in then
            and now["TRGRESP"].row["RSSTRESC"] == now["OVRLRESP"].row["RSSTRESC"] == "SD"
            and then["OVRLRESP"].row["RSSTRESC"] == "PR"
            and len(responses_after) >= 2  # the real PR is already confirmed: BOR/CBOR unchanged
            and not {"CR", "PR"} & earlier
        ):
            why = (
                "investigator reads PR where the target sum gives SD (RECIST 1.1 from TU/TR); "
                "data-review finding ovr_vs_recist, new in the latest transfer"
            )
            return [
                PlannedEdit(now["OVRLRESP"], "RSSTRESC", f"OVRLRESP: {why}", _read_as_pr),
                PlannedEdit(
                    now["TRGRESP"],
                    "RSSTRESC",
                    "TRGRESP: the target response of the same misread, PR where the sum gives SD "
                    "(the review finding is on OVRLRESP)",
                    _read_as_pr,
                ),
            ]
    return []


def choose_death_day_after(records: list[Record], latest_cut: dt.date) -> list[PlannedEdit]:
    """The END OF STUDY DS DEATH record of a subject whose DM gives the same date of death."""
    dm = _visible(records, latest_cut, "DM")
    death = dm[0][1]["DTHDTC"] if dm else ""
    if not death:
        return []
    for record, row in _visible(records, latest_cut, "DS"):
        if row["DSSCAT"] == "END OF STUDY" and row["DSDECOD"] == "DEATH" and row["DSSTDTC"] == death:
            day_after = (dt.date.fromisoformat(death) + dt.timedelta(days=1)).isoformat()
            return [
                PlannedEdit(
                    record,
                    "DSSTDTC",
                    f"DS DEATH date {day_after} is one day after DM DTHDTC {death} (analyses keep "
                    "DM's date); data-review finding death_date_disagreement, new in the latest transfer",
                    lambda r, d=day_after: [{**r, "DSSTDTC": d}],
                )
            ]
    return []


REVIEW_DEFECT_SPECS: tuple[ReviewDefectSpec, ...] = (
    ReviewDefectSpec("ovr_vs_recist", None, choose_sd_read_as_pr),
    # One study is enough to show the rule; the REGO study is the one with deaths in its endpoints (MORT_12M).
    ReviewDefectSpec("death_date_disagreement", ("HCC-REGO-PD1",), choose_death_day_after),
)
