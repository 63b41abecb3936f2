# The two commands a fresh machine needs: `make demo` and `make test`.
# Each sets up what it needs itself (a project venv with every extra).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := src tests benchmarks examples tools hatch_build.py

# LiteLLM fetches its model cost map over the network at import time without this.
export LITELLM_LOCAL_MODEL_COST_MAP := True

STATSD_PKG := statsd@0.9.0
STATSD_PREFIX := .tools/statsd
STATSD_JS := $(STATSD_PREFIX)/node_modules/statsd/stats.js

.PHONY: demo test lint typecheck pytest venv generate tools statsd bench bench-instructions soak clean

demo: $(STAMP)
	$(BIN)/gatewaymetrics demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy --strict src tools hatch_build.py
	$(BIN)/mypy --strict examples/gateway

pytest: $(STAMP) tools statsd
	$(BIN)/pytest
	# The fast path once more in pure Python: src/ on the path shadows the installed
	# package and its compiled modules.
	PYTHONPATH=src $(BIN)/pytest -q tests/test_fast_path.py \
		tests/test_fast_path_equivalence.py tests/backends/test_series_store.py \
		tests/backends/test_prometheus.py tests/test_build.py

venv: $(STAMP)

# The fast reader, generated from the field table (core/litellm_fields.py); a test
# (tests/core/test_litellm_codegen.py) fails when the checked-in file is not current.
generate: $(STAMP)
	$(BIN)/python tools/generate.py

# The project installed as a user installs it (not editable): a wheel, whose build
# (hatch_build.py) compiles the fast path's hot modules with mypyc; again whenever the
# project changes. Without a C compiler the wheel is pure Python: tests/test_build.py
# then skips, except under CI=true, where it fails.
$(STAMP): pyproject.toml hatch_build.py $(shell find src -type f ! -name '*.pyc')
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '.[all,dev]'
	touch $@

# Benchmarks (not part of make test: they print figures, they do not pass or fail).
bench: $(STAMP) statsd
	$(BIN)/python benchmarks/core_overhead.py
	$(BIN)/python benchmarks/prometheus_overhead.py --both
	$(BIN)/python benchmarks/statsd_overhead.py
	$(BIN)/python benchmarks/otel_overhead.py
	$(BIN)/python benchmarks/proxy_throughput.py

# The standing soak (minutes, not part of make test): 1 000 000 events of unique callers
# and hostile payloads through the LiteLLM adapter into Prometheus and the StatsD daemon;
# exits non-zero when an exception escaped, an event was lost, a budget went backwards,
# a secret leaked or a value was not finite. EVENTS=20000 for a shorter run.
soak: $(STAMP) statsd
	$(BIN)/python benchmarks/soak.py $(if $(EVENTS),--events $(EVENTS))

# Instructions per event (valgrind's count, free of timing noise; needs valgrind).
bench-instructions: $(STAMP)
	$(BIN)/python benchmarks/instructions.py

# Real servers for the integration tests: Debian's prometheus (promtool, prometheus).
# Without root this only warns; the tests then skip, except under CI=true, where they fail.
tools:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then \
		( apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		  apt-get install -y -qq --no-install-recommends prometheus >/dev/null ) \
		|| echo "warning: could not install Debian's prometheus package (needs root)"; \
	fi

# The reference StatsD daemon (npm statsd 0.9.0, run with node) for the integration tests,
# installed into .tools/statsd only when stats.js is missing. Without npm this only warns;
# the tests then skip, except under CI=true, where they fail.
statsd: $(STATSD_JS)

$(STATSD_JS):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(STATSD_PREFIX) --no-audit --no-fund --save-exact \
			--omit=optional --ignore-scripts --loglevel=error $(STATSD_PKG) \
		|| echo "warning: npm could not install $(STATSD_PKG) into $(STATSD_PREFIX)"; \
	else \
		echo "warning: npm is not on PATH, so $(STATSD_PKG) is not installed into $(STATSD_PREFIX)"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
