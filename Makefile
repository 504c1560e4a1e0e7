# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install run test clean-warehouse

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: pip takes the CPU build from this machine's disk.
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/newsdag run

test: install
	$(BIN)/python -m pytest

# The files beside the warehouse are listed once, in flows/lifecycle.py (warehouse_files).
clean-warehouse: install
	rm -rf $$($(BIN)/python -c "from pathlib import Path; from flows.lifecycle import warehouse_files; \
	print(*warehouse_files(Path('data/warehouse/newsdag.duckdb')))")

.PHONY: bench-cleaning bench-pipeline ui serve
bench-cleaning: install
	$(BIN)/python bench/cleaning.py

bench-pipeline: install
	$(BIN)/python bench/pipeline.py

ui: install
	$(BIN)/newsdag ui

serve: install
	$(BIN)/newsdag serve

.PHONY: prune explore status
prune: install
	$(BIN)/newsdag prune

explore: install
	$(BIN)/newsdag explore

status: install
	$(BIN)/newsdag status
