# The two commands a fresh machine needs: `make demo` and `make test`.
# Each sets up what it needs itself (a project venv with every extra).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := src tests benchmarks examples

# LiteLLM fetches its model cost map over the network at import time without this.
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test lint typecheck pytest venv tools clean

demo: $(STAMP)
	$(BIN)/python -m gatewaymetrics replay examples/litellm_payloads.jsonl

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

pytest: $(STAMP) tools
	$(BIN)/pytest

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $@

# Real servers for the integration tests: Debian's prometheus (promtool, prometheus).
# Without root this only warns; the tests then skip, except under CI=true, where they fail.
tools:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then \
		( apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		  apt-get install -y -qq --no-install-recommends prometheus >/dev/null ) \
		|| echo "warning: could not install Debian's prometheus package (needs root)"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
