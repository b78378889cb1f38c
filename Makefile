# Two commands on a fresh machine with Python 3.11, git and make: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check 'pip<26.3'
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -e .
	touch $(STAMP)

install: $(STAMP)

## Start the embedded AWS and the API on localhost:8000 with a demo clinic (Ctrl-C stops it).
run: $(STAMP)
	@exec $(BIN)/python -m chalicelib.devstack

## The whole test suite.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .local .pytest_cache .hypothesis
