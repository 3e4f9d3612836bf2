SHELL := /bin/bash
# The two commands of the README: `make book` builds the website (English and Chinese), `make test` runs
# every test. `make translations` updates the Chinese catalogues after an English edit.
# Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test release translations samples clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

book: $(STAMP)
	set -o pipefail; $(BIN)/attnbook build 2>&1 | tee _build.log

test: $(STAMP)
	$(BIN)/python -m pytest

release: $(STAMP)
	$(BIN)/attnbook release

translations: $(STAMP)
	$(BIN)/attnbook translations

samples: $(STAMP)
	$(BIN)/python autograde/make_samples.py

clean:
	rm -rf _build _build.log
