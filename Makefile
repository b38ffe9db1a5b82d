# make serve: start the emulator; make test: run the default suite.
# Each creates .venv and installs what it needs on a machine with only Python.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
ARGS   ?=

.PHONY: serve test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

serve: $(VENV)/.installed
	$(BIN)/nbmock serve --port $(PORT) $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check mockserver contracts tests
	$(BIN)/ruff format --check mockserver contracts tests
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check --fix mockserver contracts tests
	$(BIN)/ruff format mockserver contracts tests

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
