# Two commands on a fresh machine: `make run` (the whole stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test soak install web gen lint bench soak-bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## install: the .venv with the project and its dev tools (make run and make test do this first)
install: $(STAMP)

## web: build the web client (clients/web/dist/, served by Envoy at /); npm ci only when the lockfile changed
WEB       := clients/web
WEB_STAMP := $(WEB)/node_modules/.package-lock.json  # npm's own record of what it installed
$(WEB_STAMP): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $(WEB_STAMP)

# tools/: buf (lints the protos) and Swagger UI (the docs page at /api/docs), from npm.
TOOLS_STAMP := tools/node_modules/.package-lock.json
$(TOOLS_STAMP): tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund
	touch $(TOOLS_STAMP)

web: $(WEB_STAMP) $(TOOLS_STAMP)
	cd $(WEB) && npm run build

## run: three services (SQLite, no Redis) behind Envoy on :8080; Ctrl-C stops everything
run: install web
	$(PY) -m devstack.cli up

## test: the whole suite (unit, service on SQLite + PostgreSQL, end to end through Envoy, the web
## client's vitest units and its browser suite in Chromium)
test: install web
	$(PY) -m pytest $(PYTEST_ARGS)

## soak: the fault suite on its long schedule (kills, lost responses, Redis/PostgreSQL faults, fuzzing)
##       and schemathesis with 300 examples per route
soak: install
	STUDYSYNC_FUZZ_EXAMPLES=300 $(PY) -m pytest --soak tests/faults tests/e2e/test_openapi_fuzz.py $(PYTEST_ARGS)

## gen: regenerate the Python stubs, the descriptor set and the OpenAPI document from protos/
##      (the OpenAPI generator is Debian's golang-grpc-gateway: apt-get install golang-grpc-gateway)
gen: install
	$(PY) -m gateway.codegen

## lint: ruff (check and format), the import contracts (lint-imports) and mypy; .ci/run runs it
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check services gateway clients devstack bench tests
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

## clean: remove the venv, build output and the local state (.studysync: data and dev key)
clean:
	rm -rf $(VENV) build gateway/build .studysync $(WEB)/node_modules $(WEB)/dist

## bench: performance targets as ratios against ceilings measured in the same run (PostgreSQL + Redis);
##        writes bench/results/<time>.json + .png and prints the change; QUICK=1: every case briefly
bench: install
	@command -v wrk >/dev/null || apt-get install -y -q wrk || echo "wrk unavailable: HTTP load from Python instead"
	$(PY) -m bench $(if $(QUICK),--quick) $(BENCH_ARGS)

## soak-bench: 10^6 progress items + 10^6 attempts through Envoy, RSS of every process sampled; growth after
##        warm-up < 10 % (tens of minutes; not in .ci/run). SOAK_ITEMS=1e5 for a shorter one
soak-bench: install
	$(PY) -m bench --cases soak $(if $(SOAK_ITEMS),--soak-items $(SOAK_ITEMS)) $(BENCH_ARGS)

## help: list these targets
.PHONY: help
help:
	@sed -n 's/^## \([a-z-]*\): /\1\t/p' $(MAKEFILE_LIST) | expand -t 10
