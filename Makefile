# Two commands on a fresh machine: `make run` (the whole stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install gen lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## install: the .venv with the project and its dev tools (make run and make test do this first)
install: $(STAMP)

## run: three services (SQLite, no Redis) behind Envoy on :8080; Ctrl-C stops everything
run: install
	$(PY) -m services.runtime.cli up

## test: the whole suite (unit, service on SQLite + PostgreSQL, end to end through Envoy)
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

## gen: regenerate the Python stubs and the descriptor set from protos/
gen: install
	$(PY) -m gateway.codegen

## lint: ruff check and format check
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check services gateway tests

## clean: remove the venv, build output and the local state (.studysync: data and dev key)
clean:
	rm -rf $(VENV) build gateway/build .studysync

## bench: performance targets as ratios against ceilings measured in the same run (PostgreSQL + Redis)
bench: install
	@command -v wrk >/dev/null || apt-get install -y -q wrk || echo "wrk unavailable: HTTP load from Python instead"
	$(PY) -m bench $(BENCH_ARGS)

## help: list these targets
.PHONY: help
help:
	@sed -n 's/^## \([a-z-]*\): /\1\t/p' $(MAKEFILE_LIST) | expand -t 10
