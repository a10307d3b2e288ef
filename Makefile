# Station — every target sets itself up (system packages when root on Debian, a .venv, dependencies).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: demo test lint bench system-deps system-deps-test clean

demo: system-deps $(STAMP)
	$(BIN)/station demo $(DEMO_ARGS)

test: system-deps-test $(STAMP) lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check station tests bench
	$(BIN)/mypy

bench: system-deps-test $(STAMP)
	$(BIN)/python -m bench.run

system-deps:
	@scripts/system-deps.sh

system-deps-test:
	@scripts/system-deps.sh --test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
