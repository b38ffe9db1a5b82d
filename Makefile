# make serve: start the emulator; make test: run the default suite.
# Each creates .venv and installs what it needs on a machine with only Python.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
ARGS   ?=

.PHONY: serve test test-packaging lint clean bench bench-quick reliability bench-tools contract-deep schemathesis screenshots mutation mutation-pending

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# The official ArcGIS API for Python, which tests/test_arcgis_client*.py drive: the package
# without its declared dependencies (dask, pyarrow, matplotlib, ...: about 640 MB in all),
# plus those it really needs (requirements-arcgis-client.txt, about 300 MB). If it cannot be
# installed, say so and go on: those tests then skip with that reason.
ARCGIS_CLIENT := arcgis==2.4.4

$(VENV)/.installed-arcgis: requirements-arcgis-client.txt | $(VENV)/.installed-test
	@if $(BIN)/python -m pip install --quiet --no-deps '$(ARCGIS_CLIENT)' \
	    && $(BIN)/python -m pip install --quiet --no-warn-conflicts -r requirements-arcgis-client.txt; then \
	  touch $@; \
	else \
	  echo "make: $(ARCGIS_CLIENT) could not be installed; the ArcGIS client tests will skip"; \
	fi

serve: $(VENV)/.installed
	$(BIN)/nbmock serve --port $(PORT) $(ARGS)

test: $(VENV)/.installed-test $(VENV)/.installed-arcgis
	$(BIN)/ruff check mockserver contracts tests bench openapi
	$(BIN)/ruff format --check mockserver contracts tests bench openapi
	$(BIN)/python -m pytest

# The README's install lines (a wheel built from a copy of the clone, and the clone itself),
# each with the kit extra, into fresh environments outside the repo.
# The README's screenshots, taken again by the browser tests (needs chromium).
screenshots: $(VENV)/.installed-test
	NBMOCK_SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_browser.py

test-packaging: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m packaging tests/test_packaging.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check --fix mockserver contracts tests bench openapi
	$(BIN)/ruff format mockserver contracts tests bench openapi

# make bench: the emulator against bare Flask, a naive stateful handler, Prism, WireMock and
# moto's server (docs/BENCHMARKS.md); not part of make test.
# make reliability: integrity, kill -9, fuzzing, auth matrix, secrets at full size (docs/RELIABILITY.md).
# wrk comes from Debian (the Python load generator stands in where it cannot be installed);
# Prism and WireMock from npm into bench/.prism and bench/.wiremock, never globally.
PRISM_VERSION  ?= 5.16.0
# npm's wiremock package carries WireMock's standalone jar (Maven's registry is not reachable);
# it runs on the machine's own Java. moto[server] goes into the venv for bench only: it is
# no dependency of the project.
WIREMOCK_VERSION ?= 3.13.2
MOTO_VERSION   ?= 5.2.5
BENCH_ARGS     ?=
RELIABILITY_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

bench-tools: $(VENV)/.installed-test
	@command -v wrk >/dev/null 2>&1 \
	  || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null) \
	  || echo "make: wrk could not be installed; the Python load generator will be used"
	@test -x bench/.prism/node_modules/.bin/prism \
	  || (command -v npm >/dev/null 2>&1 && mkdir -p bench/.prism \
	      && npm install --prefix bench/.prism --no-audit --no-fund --silent @stoplight/prism-cli@$(PRISM_VERSION)) \
	  || echo "make: Prism could not be installed; it is left out of the table"
	@ls bench/.wiremock/node_modules/wiremock/build/wiremock-standalone-*.jar >/dev/null 2>&1 \
	  || (command -v npm >/dev/null 2>&1 && mkdir -p bench/.wiremock \
	      && npm install --prefix bench/.wiremock --no-audit --no-fund --silent wiremock@$(WIREMOCK_VERSION)) \
	  || echo "make: WireMock could not be installed; it is left out of the table"
	@command -v java >/dev/null 2>&1 \
	  || echo "make: no java on this machine; WireMock is left out of the table"
	@test -f $(VENV)/.installed-bench \
	  || ($(BIN)/python -m pip install --quiet 'moto[server]==$(MOTO_VERSION)' && touch $(VENV)/.installed-bench) \
	  || echo "make: moto[server] could not be installed; moto is left out of the table"

bench: $(VENV)/.installed-test bench-tools
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.sandboxes

# make bench-quick: the server CPU per request (and req/s with its load average) for copy and
# GET, the emulator against bare Flask and the naive handler under gunicorn sync, in about a minute.
bench-quick: $(VENV)/.installed-test
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

reliability: $(VENV)/.installed-test
	$(BIN)/python -m bench.reliability $(RELIABILITY_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info mutants

# make contract-deep: Schemathesis against the emulator (openapi/notebook-runtimes.yaml and,
# for --flavour notebook-server, openapi/notebook-server.yaml;
# schemathesis.toml) with thousands of examples; make test runs the same with a few.
CONTRACT_EXAMPLES ?= 2000
contract-deep: $(VENV)/.installed-test
	$(BIN)/ruff check openapi
	$(BIN)/ruff format --check openapi
	CONTRACT_EXAMPLES=$(CONTRACT_EXAMPLES) CONTRACT_STATEFUL_STEPS=50 \
	  $(BIN)/python -m pytest tests/test_contract.py tests/test_contract_notebook_server.py \
	    -k schemathesis_finds_no -s

# make schemathesis URL=...: Schemathesis against a served emulator (make serve) or your own
# Enterprise, with this directory's schemathesis.toml (README); installs the test tools first.
URL ?= http://127.0.0.1:$(PORT)/arcgis
# ST_ARGS: more options for `st run`, e.g. ST_ARGS='--max-examples 100'.
ST_ARGS ?=
schemathesis: $(VENV)/.installed-test
	$(BIN)/st run openapi/notebook-runtimes.yaml --url $(URL) $(ST_ARGS)

# make mutation: mutmut over the modules that hold the rules (only_mutate in [tool.mutmut] of
# pyproject.toml, the one list), then the score table and every survivor in docs/MUTATION.md;
# not part of make test (several hours on 2 idle cores). One module:
# make mutation MUTANTS='mockserver.auth.tokens.*'. On a shared machine: NICE='nice -n 19'.
MUTMUT_VERSION    ?= 3.8.1
MUTATION_CHILDREN ?= 2
NICE ?=
# Some modules only: MODULES='mockserver/serving/redact.py mockserver/control/*' (globs on paths).
# A full run starts afresh; a MODULES run keeps the other modules' verdicts in mutants/, so
# modules run one by one add up to one table (mutmut regenerates a changed source's mutants).
MODULES ?=
MODULE_ARGS = $(foreach m,$(MODULES),--module '$(m)')
# Expanded when a recipe runs, after .venv exists.
MUTANTS ?= $(shell $(BIN)/python -m bench.mutation --patterns $(MODULE_ARGS))
# mutmut copies a source file that is not Python (templates, manifests.json) into mutants/
# only when mutants/ has none yet, so a kept mutants/ would test today's code against the
# templates of its first run: remove them, and mutmut copies them afresh.
REFRESH_DATA = if [ -d mutants/mockserver ]; then find mutants/mockserver -type f ! -name '*.py' \
	  ! -name '*.meta' ! -name '*.spans' ! -path '*/__pycache__/*' -delete; fi
mutation: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet 'mutmut==$(MUTMUT_VERSION)'
	$(if $(MODULES),,rm -rf mutants)
	$(REFRESH_DATA)
	$(NICE) $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	$(BIN)/python -m bench.mutation --write docs/MUTATION.md

# make mutation-pending: after writing tests for the gaps, run again only the survivors with no
# equivalent entry, and the mutants not run yet, against the current tests; the other verdicts
# of the last make mutation stand (a new test can only kill a mutant, never revive one).
mutation-pending: $(VENV)/.installed-test
	@test -d mutants || { echo "mutation-pending: no mutants/ here; run make mutation first" >&2; exit 2; }
	$(BIN)/python -m pip install --quiet 'mutmut==$(MUTMUT_VERSION)'
	rm -rf mutants/tests && cp -a tests mutants/tests
	$(REFRESH_DATA)
	$(BIN)/python -m bench.mutation --pending $(MODULE_ARGS) > mutants/pending.txt
	@echo "mutation-pending: $$(wc -l < mutants/pending.txt) mutants to run again"
	if [ -s mutants/pending.txt ]; then \
	  $(NICE) $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $$(cat mutants/pending.txt); fi
	$(BIN)/python -m bench.mutation --write docs/MUTATION.md
