# The README's two commands: `make demo` (the main job on the embedded default) and `make test`.
PYTHON ?= python3
SHELL := /bin/bash

.PHONY: setup demo test lint

setup:
	@PYTHON=$(PYTHON) bash scripts/setup.sh

demo:
	@PYTHON=$(PYTHON) EXTRAS=demo bash scripts/setup.sh
	rewardlab demo --out runs/demo

test: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q

lint: setup
	$(PYTHON) -m ruff check .
