# Every target sets up its own virtual environment first, so a fresh machine needs only
# Python 3, make and git.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
NODE_DIR := tests/integration/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

.PHONY: test check lint typecheck pytest demo bench bench-smoke format clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The Node servers (graphql-ws, subscriptions-transport-ws) for the integration tests; their
# tests are skipped on a machine without npm.
$(NODE_STAMP): $(NODE_DIR)/package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(NODE_DIR) --no-package-lock --no-audit --no-fund --silent \
		&& touch $(NODE_STAMP); \
	else \
		echo "npm not found: the tests against Node servers will be skipped"; \
	fi

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

## test: lint, type-check and run the whole suite (what CI runs)
test: check pytest

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest

## demo: start the embedded reference server and show the client at work
demo: $(STAMP)
	$(BIN)/python -m gqlws_sync demo

## bench: the benchmark table against the raw websocket-client loop and gql
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

bench-smoke: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --smoke

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info $(NODE_DIR)/node_modules
