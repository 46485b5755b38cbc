"""trialdw.dbt_runner: the wrapper around dbt build (real dbt, real DuckDB files)."""

from __future__ import annotations

import os

import duckdb

from tests.helpers.dbt_warehouse import create_warehouse
from trialdw.dbt_runner import dbt_build, dbt_project_dir


def test_project_dir_holds_dbt_project_yml():
    assert (dbt_project_dir() / "dbt_project.yml").is_file()


def test_empty_warehouse_builds_and_file_can_be_reopened_and_moved(tmp_path):
    """No site data at all (every raw table empty, CP/GF included) still builds;
    afterwards this process can open the file read-write and os.replace it."""
    db_path = tmp_path / "warehouse.building-run1"
    create_warehouse(db_path, {}, transfers=[])
    result = dbt_build(db_path)
    assert result.success, "\n".join(result.failures)
    # every model of the project is built (one .sql file per model)
    n_models = len(list((dbt_project_dir() / "dbt_project" / "models").rglob("*.sql")))
    assert n_models >= 47 and result.models_built == n_models
    assert result.unit_tests_passed > 0 and result.tests_failed == 0

    with duckdb.connect(str(db_path)) as con:  # read-write: fails if dbt still holds the file
        con.execute("create table main.after_build as select count(*) as n from adam.adsl")
        assert con.execute("select n from main.after_build").fetchone() == (0,)
    published = tmp_path / "warehouse.duckdb"
    os.replace(db_path, published)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from adam.adcp").fetchone() == (0,)


def test_failed_build_names_the_node_and_why(tmp_path):
    db_path = tmp_path / "broken.duckdb"
    create_warehouse(db_path, {}, transfers=[])
    with duckdb.connect(str(db_path)) as con:
        con.execute("drop table raw.ae")  # the loader guarantees it; here it is missing
    result = dbt_build(db_path, select="stg_site__ae")
    assert not result.success
    assert any(line.startswith("stg_site__ae:") and "ae" in line.lower() for line in result.failures), result.failures


def test_dbt_connection_has_the_night_memory_limit(tmp_path):
    """profiles.yml gives DuckDB's memory_limit as a config option (set once when
    dbt opens the file, not as a SET on every node's cursor): dbt's own
    connection runs under the limit every other connection of the night has."""
    from dbt.cli.main import dbtRunner

    from trialdw.dbt_runner import DbtSession, _db_env, _release_duckdb_file
    from trialdw.study_build import MEMORY_LIMIT

    db_path = tmp_path / "warehouse.duckdb"
    create_warehouse(db_path, {}, transfers=[])
    session = DbtSession()
    try:
        with _db_env(db_path):
            outcome = dbtRunner(manifest=session.manifest(db_path)).invoke(
                ["show", "--inline", "select current_setting('memory_limit') as m", *session._args("")]
            )
        _release_duckdb_file()
    finally:
        session.close()
    assert outcome.success, outcome.exception
    with duckdb.connect(config={"memory_limit": MEMORY_LIMIT}) as con:
        expected = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    assert outcome.result.results[0].agate_table.rows[0][0] == expected
