"""Deliberate, realistic data defects, so a demo run has findings to show.

Each defect is a small edit of one generated record (or one extra row) at the
first site of a study, chosen deterministically: the first subject, in roster
order, with a record that qualifies in every transfer the defect is meant to
be in. Every defect here is a *row* problem the warehouse quarantines (or
loads with a warning); none rejects a whole transfer. The data-review defects
(valid rows that disagree with each other) are in ``review_defects.py``; this
injector places both kinds.

Life cycle across the cumulative transfers (``presence``):
- ``earlier``: in every transfer but the latest, corrected in the latest (-> resolved);
- ``all``: never corrected (-> one finding that stays open);
- ``later``: new in the latest transfer (-> opened by the latest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from trialdw.synth.records import Record
from trialdw.synth.review_defects import REVIEW, REVIEW_DEFECT_SPECS, ReviewDefectSpec

ROW = "row"  # Defect.category of a row defect, as in audit.findings.CATEGORY


class Defect(NamedTuple):
    file: str  # path relative to the landing root, e.g. HCC-REGO-PD1/101/20261119T020000Z/AE.csv
    line: int  # physical line where the record starts (header = 1)
    column: str
    description: str
    # Added later, with defaults so the four-field form still works:
    category: str = ROW  # "row": a finding at file/line/column; "review": a data-review finding
    rule: str | None = None  # review defects: the review rule expected (RULE in audit.findings)
    usubjid: str | None = None  # the subject whose record was edited


@dataclass(frozen=True)
class DefectSpec:
    name: str
    domain: str
    presence: str  # earlier / all / later
    column: str
    description: str
    qualifies: Callable[[dict[str, str]], bool]
    mutate: Callable[[dict[str, str]], list[dict[str, str]]]  # replacement row(s)
    only_subject: bool = False  # restricted to the injector's chosen subject

    def transfers(self, n_transfers: int) -> range:
        return {
            "earlier": range(0, n_transfers - 1),
            "all": range(0, n_transfers),
            "later": range(n_transfers - 1, n_transfers),
        }[self.presence]


def _complete(value: str) -> bool:
    return len(value) == 10


def _end_before_start(row: dict) -> list[dict]:
    start = dt.date.fromisoformat(row["AESTDTC"])
    return [{**row, "AEENDTC": (start - dt.timedelta(days=3)).isoformat()}]


def _second_event_same_seq(row: dict) -> list[dict]:
    # Two different events entered under one AESEQ (a copy-paste in the EDC).
    extra = {
        **row,
        "AETERM": "Nausea",
        "AEDECOD": "Nausea",
        "AEBODSYS": "Gastrointestinal disorders",
        "AETOXGR": "1",
        "AESER": "N",
        "AEACN": "DOSE NOT CHANGED",
    }
    return [row, extra]


DEFECT_SPECS: tuple[DefectSpec, ...] = (
    DefectSpec(
        "invalid_sex",
        "DM",
        "earlier",
        "SEX",
        "SEX 'Male' is not in the codelist M/F/U (row quarantined; the subject's other rows are orphans "
        "in this transfer); corrected in the latest transfer",
        lambda r: True,
        lambda r: [{**r, "SEX": "Male"}],
        only_subject=True,
    ),
    DefectSpec(
        "ae_end_before_start",
        "AE",
        "all",
        "AEENDTC",
        "AEENDTC is before AESTDTC (cross-field rule); never corrected",
        lambda r: _complete(r["AESTDTC"]) and _complete(r["AEENDTC"]) and r["AETOXGR"] != "5",
        _end_before_start,
    ),
    DefectSpec(
        "lab_trailing_space",
        "LB",
        "all",
        "LBSTRESN",
        "trailing space in LBSTRESN; never corrected",
        lambda r: r["LBTESTCD"] == "ALB",
        lambda r: [{**r, "LBSTRESN": r["LBSTRESN"] + " "}],
    ),
    DefectSpec(
        "mojibake_aeterm",
        "AE",
        "all",
        "AETERM",
        "mojibake 'â‰¥' (UTF-8 '≥' read as Windows-1252) in AETERM (warning, row loaded); never corrected",
        lambda r: "\n" not in r["AETERM"],
        lambda r: [{**r, "AETERM": f"{r['AETERM']} â‰¥ grade {r['AETOXGR']}"}],
    ),
    DefectSpec(
        "grade5_not_fatal",
        "AE",
        "later",
        "AEOUT",
        "AETOXGR 5 but AEOUT is not FATAL (grade 5 <=> FATAL); new in the latest transfer",
        lambda r: r["AETOXGR"] in ("3", "4") and r["AEOUT"] == "RECOVERED/RESOLVED",
        lambda r: [{**r, "AETOXGR": "5"}],
    ),
    DefectSpec(
        "duplicate_aeseq",
        "AE",
        "later",
        "AESEQ",
        "duplicate record key USUBJID+AESEQ (both rows quarantined); new in the latest transfer",
        lambda r: "\n" not in r["AETERM"] and r["AETOXGR"] in ("1", "2"),
        _second_event_same_seq,
    ),
)


@dataclass(frozen=True)
class _Claim:
    """A record the injector will edit: in which transfers, how, and what it reports."""

    transfers: range
    mutate: Callable[[dict[str, str]], list[dict[str, str]]]
    column: str
    description: str
    category: str = ROW
    rule: str | None = None

    def defect(self, file: str, line: int, usubjid: str) -> Defect:
        return Defect(file, line, self.column, self.description, self.category, self.rule, usubjid)


class DefectInjector:
    """Claims records for the defect specs, subject by subject, and edits their rows."""

    def __init__(
        self,
        cuts: list[dt.date],
        chosen_subject: str | None,
        specs: tuple[DefectSpec, ...] = DEFECT_SPECS,
        study: str | None = None,
        review_specs: tuple[ReviewDefectSpec, ...] = REVIEW_DEFECT_SPECS,
    ):
        self.cuts = cuts
        self.chosen_subject = chosen_subject
        self.pending = [s for s in specs if len(s.transfers(len(cuts)))]
        # Review defects need the study (some are planted in one study only); without it, none.
        self.pending_review = [s for s in review_specs if study is not None and s.applies_to(study)]
        self._claims: dict[int, _Claim] = {}

    def claim(self, usubjid: str, records: list[Record]) -> None:
        """Pick this subject's records for specs not yet placed (call once per subject)."""
        self._claims = {}
        claimed_domains: set[str] = set()
        for spec in list(self.pending):
            if spec.only_subject != (usubjid == self.chosen_subject):
                continue  # the chosen subject carries only its own defect: its rows are orphans anyway
            if spec.domain in claimed_domains:
                continue  # spread the defects over subjects, one per domain and subject
            wanted = spec.transfers(len(self.cuts))
            for record in records:
                if record.domain != spec.domain or id(record) in self._claims:
                    continue
                rows = [record.as_of(self.cuts[t]) for t in wanted]
                if all(r is not None and spec.qualifies(r) for r in rows):
                    self._claims[id(record)] = _Claim(wanted, spec.mutate, spec.column, spec.description)
                    claimed_domains.add(spec.domain)
                    self.pending.remove(spec)
                    break
        if usubjid == self.chosen_subject:
            return
        latest = range(len(self.cuts) - 1, len(self.cuts))  # review defects are new in the latest transfer
        for review in list(self.pending_review):
            edits = review.choose(records, self.cuts[-1])
            if not edits or any(id(e.record) in self._claims for e in edits):
                continue
            for e in edits:
                self._claims[id(e.record)] = _Claim(latest, e.mutate, e.column, e.description, REVIEW, review.rule)
            self.pending_review.remove(review)

    def render(self, transfer_index: int, record: Record, row: dict[str, str]) -> list[tuple[dict, _Claim | None]]:
        claim = self._claims.get(id(record))
        if claim is None or transfer_index not in claim.transfers:
            return [(row, None)]
        return [(r, claim) for r in claim.mutate(row)]
