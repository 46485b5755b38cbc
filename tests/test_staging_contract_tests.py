"""The data contracts are the single source of codelists, required values and
record keys; the dbt tests of the staging models may only re-assert them.

For every staging model of a site domain, each of its dbt tests must agree with
the domain's contract (data_contracts/<DOMAIN>.yml):
- the record-key test (``unique_combination`` or ``unique``) names exactly the
  contract's record key, and every staging model has one;
- ``accepted_values`` lists exactly the contract's codelist of that column;
- ``not_null`` only on columns the contract requires (or the transfer folder sets).
A codelist changed in a contract and not in staging (or the other way round)
fails here, naming both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trialdw.ingest.contracts import load_contracts
from trialdw.project import PROJECT_ROOT

STAGING = PROJECT_ROOT / "dbt_project" / "models" / "staging"
CONTRACTS = load_contracts()
FROM_FOLDER = {"STUDYID", "SITEID"}  # staging takes them from the transfer folder (lineage), never empty


def _model(domain: str) -> dict:
    doc = yaml.safe_load((STAGING / f"stg_site__{domain.lower()}.yml").read_text(encoding="utf-8"))
    (model,) = doc["models"]
    return model


def _contract_column(contract, staging_name: str) -> str | None:
    """A staging column's contract column: the same name, or a complete date
    cast to DATE (RFICDTC -> RFICDT)."""
    names = contract.column_names
    if staging_name in names:
        return staging_name
    if staging_name.endswith("DT") and f"{staging_name}C" in names:
        return f"{staging_name}C"
    return None


def _tests(entries) -> list[tuple[str, dict]]:
    out = []
    for entry in entries or []:
        if isinstance(entry, str):
            out.append((entry, {}))
        else:
            ((name, config),) = entry.items()
            out.append((name, (config or {}).get("arguments", config or {})))
    return out


@pytest.mark.parametrize("domain", sorted(CONTRACTS))
def test_staging_tests_agree_with_the_contract(domain):
    contract, model = CONTRACTS[domain], _model(domain)
    keys = [args["columns"] for name, args in _tests(model.get("data_tests")) if name == "unique_combination"]
    for column in model.get("columns", []):
        source = _contract_column(contract, column["name"])
        for name, args in _tests(column.get("data_tests")):
            where = f"stg_site__{domain.lower()}.{column['name']} {name} vs data_contracts/{domain}.yml"
            if name == "unique":
                keys.append([column["name"]])
            elif name == "accepted_values":
                assert source is not None, f"{where}: no such contract column"
                codelist = contract.column(source).codelist
                assert codelist is not None, f"{where}: the contract has no codelist for {source}"
                assert sorted(str(v) for v in args["values"]) == sorted(codelist), where
            elif name == "not_null":
                if column["name"] in FROM_FOLDER:
                    continue
                assert source is not None, f"{where}: no such contract column"
                spec = contract.column(source)
                assert spec.required and not spec.nullable, f"{where}: the contract lets {source} be empty"
    mapped = [[_contract_column(contract, c) or c for c in key] for key in keys]
    assert mapped == [list(contract.record_key)], (
        f"stg_site__{domain.lower()}: record-key test {keys} vs data_contracts/{domain}.yml record_key "
        f"{list(contract.record_key)}"
    )


def test_every_site_domain_has_a_staging_model_and_yml():
    models = {p.stem for p in Path(STAGING).glob("stg_site__*.sql")}
    assert models == {f"stg_site__{d.lower()}" for d in CONTRACTS}
    assert all((STAGING / f"{m}.yml").is_file() for m in models)
