"""A randomised study by configuration: several arms, a placebo whose dose is 0."""

from __future__ import annotations

import polars as pl
import pytest

from tests.helpers.transfers import SITE, STUDY, csv_text, dm_row, ex_row, validate_base_transfer
from trialdw.ingest.contracts import load_contracts
from trialdw.study_config import ConfigError, parse_study

TID = "20250301T020000Z"
S1, S2 = f"{STUDY}-{SITE}-001", f"{STUDY}-{SITE}-002"
RANDOMISED = {
    "study": STUDY,
    "title": "randomised test study",
    "arms": [{"armcd": "DRUGX", "arm": "DRUG X"}, {"armcd": "PBO", "arm": "PLACEBO"}],
    "treatments": [
        {"extrt": "DRUG X", "dose": 100, "dosu": "mg", "dosfrq": "QD", "route": "ORAL"},
        {"extrt": "PLACEBO", "dose": 0, "dosu": "mg", "dosfrq": "QD", "route": "ORAL", "placebo": True},
    ],
    "domains": ["DM", "AE", "EX", "TR", "LB"],
    "visits": {"assessment_interval_days": 42},
    "response": {"confirmation_days": 28, "sd_minimum_days": 42, "reference_date": "ENRLDT"},
}


def _validate(tmp_path, files):
    study = parse_study(RANDOMISED, "<randomised>")
    validated = validate_base_transfer(tmp_path, TID, study, load_contracts(), **files)
    frame = pl.read_parquet(validated.findings_path)
    return validated, sorted(frame.select("DOMAIN", "SOURCE_LINE", "COLUMN_NAME", "VALUE", "RULE").iter_rows())


def test_any_configured_arm_is_accepted_and_arm_must_match_its_code(tmp_path):
    dm = csv_text([dm_row("001"), dm_row("002", ARMCD="PBO", ARM="PLACEBO"), dm_row("003", ARMCD="PBO", ARM="DRUG X")])
    validated, found = _validate(tmp_path, {"DM.csv": dm})
    assert found == [("DM", 4, "ARM", "DRUG X", "study_arm")]
    assert (validated.domain("DM").rows_loaded, validated.domain("DM").rows_quarantined) == (2, 1)


def test_placebo_may_have_dose_zero_an_active_treatment_may_not(tmp_path):
    # site-exports.md, EX: "EXDOSE > 0 (0 only for a treatment the study file marks as placebo)".
    ex = csv_text(
        [
            ex_row(S1, 1, EXDOSE="0"),  # line 2: active, 0 mg
            ex_row(S2, 1, EXTRT="PLACEBO", EXDOSE="0"),  # line 3: placebo, 0 mg
            ex_row(S2, 2, EXTRT="PLACEBO", EXDOSE="-1"),  # line 4: negative
            ex_row(S1, 2, EXDOSE="0.1"),  # line 5: active, just above 0
        ]
    )
    validated, found = _validate(tmp_path, {"EX.csv": ex})
    assert found == [("EX", 2, "EXDOSE", "0", "positive_unless_placebo"), ("EX", 4, "EXDOSE", "-1", "range")]
    assert (validated.domain("EX").rows_loaded, validated.domain("EX").rows_quarantined) == (2, 2)


def test_a_study_file_gives_arm_or_arms_not_both():
    both = {**RANDOMISED, "arm": {"armcd": "A", "arm": "A"}}
    with pytest.raises(ConfigError, match=r"either 'arm'.*or 'arms'"):
        parse_study(both, "<both>")
    study = parse_study(RANDOMISED, "<randomised>")
    assert [a.armcd for a in study.arms] == ["DRUGX", "PBO"] and study.placebo_names == ("PLACEBO",)
