"""Contracts are data: every domain file loads, malformed contracts fail loudly,
and the pandera schema built from YAML reports failures by row position."""

from __future__ import annotations

import polars as pl
import pytest

from tests.helpers.transfers import study_config
from trialdw.ingest import rules as R
from trialdw.ingest.contracts import ContractError, build_schema, load_contracts, parse_contract
from trialdw.ingest.rows import _failures
from trialdw.project import ALL_DOMAINS
from trialdw.study_config import load_studies


def test_every_domain_has_a_versioned_contract_whose_schema_builds():
    contracts = load_contracts()
    assert sorted(contracts) == sorted(ALL_DOMAINS)
    for study in load_studies().values():
        ctx = R.RuleContext(study=study, site="101", dm_subjects=frozenset())
        for contract in contracts.values():
            assert contract.version
            assert set(contract.record_key) <= set(contract.column_names)
            schema, _checks = build_schema(contract, ctx)
            assert list(schema.columns) == list(contract.column_names)


def test_record_keys_follow_the_spec():
    keys = {d: c.record_key for d, c in load_contracts().items()}
    assert keys["TR"] == ("USUBJID", "TRLNKID", "TRTESTCD", "VISITNUM")
    assert keys["RS"] == ("USUBJID", "RSTESTCD", "RSEVAL", "VISITNUM")
    assert keys["GF"] == ("USUBJID", "GFREFID", "GFCELLTY", "GFGENSY")


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"domain": "AE", "version": 1, "record_key": ["X"], "columns": [{"name": "A"}]}, "record_key names unknown"),
        (
            {"domain": "AE", "version": 1, "record_key": ["A"], "columns": [{"name": "A", "type": "float"}]},
            "type must be",
        ),
        (
            {
                "domain": "AE",
                "version": 1,
                "record_key": ["A"],
                "columns": [{"name": "A"}],
                "rules": [{"no_such_rule": {}}],
            },
            "unknown rule 'no_such_rule'",
        ),
        (
            {
                "domain": "AE",
                "version": 1,
                "record_key": ["A"],
                "columns": [{"name": "A"}],
                "rules": [{"not_before": {"column": "A", "after": "B"}}],
            },
            "rule not_before names unknown columns",
        ),
        ({"domain": "AE", "record_key": ["A"], "columns": [{"name": "A"}]}, "missing required key 'version'"),
    ],
)
def test_malformed_contracts_are_refused(doc, message):
    with pytest.raises(ContractError, match=message):
        parse_contract(doc, "test.yml")


def test_pandera_failure_cases_map_to_row_positions():
    """The design relies on pandera-polars (0.35) giving every failure its row index,
    for column checks, frame-level checks and not-nullable alike."""
    contract = parse_contract(
        {
            "domain": "LB",
            "version": "t",
            "record_key": ["ID"],
            "columns": [
                {"name": "ID"},
                {"name": "LO", "type": "number", "nullable": True},
                {"name": "HI", "type": "number"},
            ],
            "rules": [{"not_above": {"column": "LO", "limit": "HI"}}],
        }
    )
    # Whether a record key is shared is decided over the whole file beforehand (rows.duplicate_lines).
    frame = pl.DataFrame(
        {
            "ID": ["a", "b", "c", "a"],
            "LO": ["1", "x", "9", None],
            "HI": ["5", "5", "2", None],
            R.DUPLICATE_LINES: ["2 and 5", None, None, "2 and 5"],
        }
    )
    schema, checks = build_schema(contract, R.RuleContext(study=study_config(), site="101"))
    got = sorted((check.rule, check.column, index.to_list()) for check, index in _failures(schema, checks, frame))
    assert got == [
        ("duplicate_key", "ID", [0, 3]),
        ("not_above", "LO", [2]),
        ("required", "HI", [3]),
        ("type", "LO", [1]),
    ]
