# The two commands a fresh machine needs: `make demo` and `make test`.
# Each sets up what it needs itself (a project venv with every extra).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := src tests benchmarks examples

# LiteLLM fetches its model cost map over the network at import time without this.
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test lint typecheck pytest venv clean

demo: $(STAMP)
	$(BIN)/python -m gatewaymetrics replay examples/litellm_payloads.jsonl

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

pytest: $(STAMP)
	$(BIN)/pytest

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
