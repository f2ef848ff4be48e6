# Every target sets up what it needs in .venv first, so a fresh machine needs only Python 3,
# make and git. Each stamp records one extra installed into the same .venv: `make demo`
# installs only the server extra, `make test` the test and dev extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.created
STAMP := $(VENV)/.installed-test
DEV_STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo
BENCH_STAMP := $(VENV)/.installed-bench
NODE_DIR := tests/integration/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
DIST := dist

.PHONY: test check lint typecheck pytest demo bench bench-smoke dist format clean

$(VENV_STAMP):
	$(PYTHON) -m venv $(VENV)
	touch $(VENV_STAMP)

$(STAMP): $(VENV_STAMP) setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Linters and the type checker, kept out of the test extra: running the tests needs neither.
$(DEV_STAMP): $(VENV_STAMP) setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

# The demo needs the package and its server extra, nothing else: a first `make demo` should
# take seconds, not the minutes the test extra's servers and browsers take.
$(DEMO_STAMP): $(VENV_STAMP) setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[server]'
	touch $(DEMO_STAMP)

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

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy checks the tests too, so it needs the test extra's packages as well.
typecheck: $(DEV_STAMP) $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest

## demo: start the embedded reference server and show the client at work
demo: $(DEMO_STAMP)
	$(BIN)/python -m gqlws_sync demo

## dist: build the sdist and the wheel into dist/ and check their metadata
dist: $(STAMP)
	rm -rf $(DIST)
	$(BIN)/python -m build --outdir $(DIST) .
	$(BIN)/python -m twine check --strict $(DIST)/*

## bench: the benchmark table against the raw websocket-client loop and gql
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

bench-smoke: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --smoke

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build $(DIST) *.egg-info $(NODE_DIR)/node_modules
