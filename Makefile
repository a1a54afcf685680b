# One entry point for people and CI: every target bootstraps .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv demo test test-all test-under-load lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## perfop's main job on the bundled example project
demo: $(STAMP)
	$(BIN)/perfop demo

## the test suite without the tests marked slow (minutes); per-test timeout, session watchdog
## and the 15 slowest tests come from pyproject.toml [tool.pytest.ini_options]
test: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow' $(PYTEST_ARGS)

## every test, slow ones included (what .ci/run runs)
test-all: $(STAMP)
	@rm -f $(VENV)/.pytest-status
	$(BIN)/python -m pytest $(PYTEST_ARGS) || { s=$$?; echo $$s > $(VENV)/.pytest-status; exit $$s; }

## every test with two CPU-burning processes beside it (BURNERS=n to change)
test-under-load: $(STAMP)
	scripts/under_load.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

## perfop's own benchmarks against its peers (long; results go to docs/benchmarks.md)
bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
