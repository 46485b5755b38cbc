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

.PHONY: install demo test bench bench-review clean

# A stamp file so the venv is rebuilt only when the pins change.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	rm -rf $(DEMO)/landing
	$(TRIALDW) synth $(DEMO)/landing
	$(TRIALDW) run --landing $(DEMO)/landing --warehouse $(DEMO)/warehouse/trialdw.duckdb

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m trialdw.bench

# The review app with 50,000 findings: API answers and the browser's time to first render.
bench-review: install
	$(PY) -m trialdw.review_app.bench --findings 50000

clean:
	rm -rf $(VENV) $(DEMO) .prefect .pytest_cache dbt_project/target dbt_project/logs
