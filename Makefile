# trialdw — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TRIALDW := $(VENV)/bin/trialdw
DEMO := demo

# Offline and quiet (also set by the trialdw CLI itself).
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export PREFECT_HOME := $(CURDIR)/.prefect

.PHONY: install demo test test-fast lint lint-python lint-sql bench bench-review clean

# A stamp file so the venv is rebuilt only when the pins change. Bytecode is
# compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on this kind of
# machine) every process would otherwise recompile prefect, dbt, GX, lifelines
# (3-4x slower imports).
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	rm -rf $(DEMO)/landing
	$(TRIALDW) synth $(DEMO)/landing
	$(TRIALDW) run --landing $(DEMO)/landing --warehouse $(DEMO)/warehouse/trialdw.duckdb

# make test runs the linters first: a tree that does not pass them does not land.
test: lint
	$(PY) -m pytest

# The fast set while working: everything not marked slow (see pyproject's markers).
test-fast: install
	$(PY) -m pytest -m "not slow"

lint: lint-python lint-sql

# Python: ruff (lint and format, configured in pyproject.toml).
lint-python: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) -m trialdw.bench

# SQL style (.sqlfluff). sqlfluff's dbt templater compiles the project, so dbt
# needs its profile: TRIALDW_DB_PATH names a scratch DuckDB file in a temp dir
# (no model queries the warehouse at compile time, so it can stay empty) and
# dbt's target/ and logs/ go there too. dbt_project/macros is not linted: the
# dbt templater skips macro files ("Skipped file ... because it is a macro"; a
# file that only defines macros renders to nothing), and so it does the generic
# tests in dbt_project/tests/generic: their style is kept by hand.
# dbt_project/tests is listed for singular tests.
lint-sql: install
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	TRIALDW_DB_PATH="$$tmp/lint.duckdb" DBT_TARGET_PATH="$$tmp/target" DBT_LOG_PATH="$$tmp/logs" \
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/tests

# The review app with 50,000 findings: API answers and the browser's time to first render.
bench-review: install
	$(PY) -m trialdw.review_app.bench --findings 50000

clean:
	rm -rf $(VENV) $(DEMO) .prefect .pytest_cache dbt_project/target dbt_project/logs
