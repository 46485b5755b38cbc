"""Tumour biopsies for single-cell RNA-seq: CP (cells per type) and GF (expression).

Baseline biopsy before the first dose; an on-treatment biopsy 4-6 weeks in for
most dosed subjects. Results reach the EDC about a month after the biopsy
(sequencing and analysis), so a recent biopsy is not in a transfer yet.
"""

from __future__ import annotations

import datetime as dt
import random

from trialdw.synth import catalogues as cat
from trialdw.synth.records import Record, iso

SEQUENCING_TURNAROUND_DAYS = 30
MIN_CELLS_FOR_EXPRESSION = 1  # a cell type with no cells has no expression row


def background_expression(seed: int, study: str) -> dict[tuple[str, str], float]:
    """Low, non-marker expression per (cell type, gene): fixed per study and seed."""
    rng = random.Random(f"{seed}|{study}|gf-background")
    return {(ct, gene): round(rng.uniform(0.0, 0.6), 3) for ct, *_ in cat.CELL_TYPES for gene in cat.GENE_PANEL}


def _cell_counts(rng: random.Random, on_treatment: bool, sensitivity: float) -> dict[str, int]:
    total = rng.randint(1500, 7000)
    weights = {}
    for code, _, share, multiplier in cat.CELL_TYPES:
        effect = multiplier**sensitivity if on_treatment else 1.0
        weights[code] = rng.gammavariate(share * 60, 1.0) * effect
    norm = sum(weights.values())
    return {code: round(total * w / norm) for code, w in weights.items()}


def biopsy_records(
    rng: random.Random,
    usubjid: str,
    siteid: str,
    subjid: str,
    background: dict[tuple[str, str], float],
    rfic: dt.date,
    trtsdt: dt.date,
    last_on_treatment: dt.date,
    horizon: dt.date,
) -> list[Record]:
    before_dose = trtsdt - rfic
    samples = [("BL", "BASELINE", "0", rfic + dt.timedelta(days=rng.randint(1, max(1, before_dose.days - 1))))]
    if rng.random() < 0.85:
        day = trtsdt + dt.timedelta(days=rng.randint(28, 42))
        if day <= last_on_treatment and day < horizon:
            samples.append(("OT", "ON TREATMENT", "1", day))
    sensitivity = rng.uniform(0.3, 1.5)  # how strongly this tumour responds in its microenvironment
    records: list[Record] = []
    for suffix, visit, visitnum, day in samples:
        refid = f"BX-{siteid}-{subjid}-{suffix}"
        on_treatment = suffix == "OT"
        visible = day + dt.timedelta(days=SEQUENCING_TURNAROUND_DAYS)
        counts = _cell_counts(rng, on_treatment, sensitivity)
        for code, name, *_ in cat.CELL_TYPES:
            records.append(
                Record(
                    "CP",
                    {
                        "USUBJID": usubjid,
                        "CPREFID": refid,
                        "CPSPEC": "TUMOR TISSUE",
                        "VISIT": visit,
                        "VISITNUM": visitnum,
                        "CPTESTCD": code,
                        "CPTEST": name,
                        "CPSTRESN": str(counts[code]),
                        "CPSTRESU": "CELLS",
                        "CPMETHOD": "SCRNA-SEQ",
                        "CPDTC": iso(day),
                    },
                    visible,
                )
            )
        for code, *_ in cat.CELL_TYPES:
            if counts[code] < MIN_CELLS_FOR_EXPRESSION:
                continue
            noise = 0.25 if counts[code] >= 30 else 0.6  # few cells: a noisy mean
            for gene, (markers, shift) in cat.GENE_PANEL.items():
                level = markers.get(code, background[(code, gene)])
                if on_treatment and code in markers:
                    level += shift * sensitivity
                value = level + rng.gauss(0, noise)
                value = value if value > 0 else 0.0  # also avoids printing "-0.000"
                records.append(
                    Record(
                        "GF",
                        {
                            "USUBJID": usubjid,
                            "GFREFID": refid,
                            "VISIT": visit,
                            "VISITNUM": visitnum,
                            "GFCELLTY": code,
                            "GFGENSY": gene,
                            "GFSTRESN": f"{value:.3f}",
                            "GFSTRESU": "LOG1P CPM",
                            "GFDTC": iso(day),
                        },
                        visible,
                    )
                )
    return records
