# lnet: two commands set everything up on a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.lnet-installed
STAMP_DEV := $(VENV)/.lnet-installed-dev
STAMP_DOCS := $(VENV)/.lnet-installed-docs
PYTEST_ARGS ?=
# every tier runs on pytest-xdist workers. The long tiers send whole test files to a worker
# (module fixtures such as the team server's PostgreSQL cluster stay in one process); the
# fast suite's workers steal single tests from each other, which keeps both busy to the end
WORKERS ?= 2
XDIST   := -n $(WORKERS) --dist loadfile
XDIST_FAST := -n $(WORKERS) --dist worksteal

.PHONY: help install install-dev train test test-e2e test-slow test-long test-all docs docs-build lint format bench generate mlflow-ui clean

help:
	@echo "make train      create .venv, install, train LandscapeNet (MLflow run in mlflow.db)"
	@echo "make test       create .venv, install with the dev extra, run the fast test suite (< 2 min)"
	@echo "make test-e2e   the tests that train a model or start a process (marked e2e)"
	@echo "make test-slow  the long tests: multiruns, servers, browsers, large lattices (marked slow)"
	@echo "make test-long  the e2e and slow tiers in one run, as CI runs them (WORKERS=2 workers)"
	@echo "make test-all   all three tiers: make test, then make test-long"
	@echo "make docs       serve the documentation site at http://127.0.0.1:8000"
	@echo "make docs-build build it strictly (a broken link or API page fails), as CI does"
	@echo "make lint       ruff check"
	@echo "make bench      performance table: lnet vs dense LAPACK and the fast scipy routes (idle machine)"
	@echo "make generate   build (or reuse) the default dataset cache"
	@echo "make mlflow-ui  open the MLflow UI on the local store"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@ $(STAMP)

$(STAMP_DOCS): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[docs]"
	@touch $@ $(STAMP)

install: $(STAMP)

install-dev: $(STAMP_DEV)

train: $(STAMP)
	$(PY) pipelines/train.py model=landscape_net register=true $(ARGS)

generate: $(STAMP)
	$(PY) pipelines/generate.py $(ARGS)

test: $(STAMP_DEV)
	$(PY) -m pytest -m "not slow and not e2e" $(XDIST_FAST) $(PYTEST_ARGS)

test-e2e: $(STAMP_DEV)
	$(PY) -m pytest -m "e2e and not slow" $(XDIST) $(PYTEST_ARGS)

test-slow: $(STAMP_DEV)
	$(PY) -m pytest -m slow $(XDIST) $(PYTEST_ARGS)

test-long: $(STAMP_DEV)
	$(PY) -m pytest -m "e2e or slow" $(XDIST) $(PYTEST_ARGS)

test-all: test test-long

docs: $(STAMP_DOCS)
	$(VENV)/bin/mkdocs serve

docs-build: $(STAMP_DOCS)
	$(VENV)/bin/mkdocs build --strict --site-dir site

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP_DEV)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) pipelines/benchmark.py $(ARGS)

mlflow-ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis site
