"""The dbt var ``schema_prefix`` (DbtSession.build(..., schema_prefix=...)):
every schema dbt reads (sources) and writes (models, tests) gets the prefix,
so several study groups build side by side in one Spark warehouse; without
it the schemas are exactly raw / staging / intermediate / adam (unchanged)."""

from __future__ import annotations

import pytest

from trialdw.dbt_runner import TARGETS, DbtSession


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    # An empty manifest cache of its own: these tests look at what dbt's parse
    # leaves in the target folder, and a manifest kept by an earlier run on the
    # machine (trialdw.dbt_manifest_cache) would skip the parse.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIALDW_CACHE_DIR", str(tmp_path_factory.mktemp("manifest-cache")))
        s = DbtSession(tmp_path_factory.mktemp("dbt-prefix"))
        yield s
        s.close()


def _schemas(manifest) -> tuple[set[str], set[str]]:
    models = {n.schema for n in manifest.nodes.values() if n.resource_type == "model"}
    sources = {s.schema for s in manifest.sources.values()}
    return models, sources


def test_without_a_prefix_the_schemas_are_the_plain_names(session, tmp_path):
    models, sources = _schemas(session.manifest(tmp_path / "x.duckdb"))
    assert {"staging", "intermediate", "adam", "data_review"} <= models
    assert sources == {"raw", "audit", "config", "analysis"}


def test_a_prefix_goes_before_every_schema_read_and_written(session, tmp_path):
    models, sources = _schemas(session.manifest(tmp_path / "x.duckdb", schema_prefix="g1_"))
    assert {"g1_staging", "g1_intermediate", "g1_adam", "g1_data_review"} <= models
    assert all(m.startswith("g1_") for m in models)
    # analysis: a source for the docs only (written by Python, read by no model;
    # trialdw.submission.metadata reads its yml as plain YAML): not prefixed.
    assert sources == {"g1_raw", "g1_audit", "g1_config", "analysis"}
    # Each prefix has its own parse (schemas are fixed when dbt parses) and target folder.
    assert session.manifest(tmp_path / "x.duckdb") is not session.manifest(tmp_path / "x.duckdb", schema_prefix="g1_")
    assert (session.state_dir / "schema_prefix" / "g1_" / "target").is_dir()


@pytest.mark.parametrize("prefix", ["G1_", "g-1_", "1g_", "g1; drop"])
def test_a_prefix_is_a_plain_lower_case_identifier(session, prefix):
    with pytest.raises(ValueError):
        session.manifest(None, schema_prefix=prefix)


def test_the_targets_are_the_profiles_outputs():
    import yaml

    from trialdw.dbt_runner import dbt_profiles_dir

    outputs = yaml.safe_load((dbt_profiles_dir() / "profiles.yml").read_text())["trialdw"]["outputs"]
    assert set(TARGETS) == set(outputs)
    assert outputs["spark"]["type"] == "spark" and outputs["spark"]["method"] == "session"
    with pytest.raises(ValueError):
        DbtSession(target="snowflake")
