# Station — every target sets itself up (system packages when root on Debian, a .venv, dependencies).
# Python dependencies come from the hash-locked files in requirements/ (`make lock` updates them):
# `make demo` installs the service's (requirements/service.txt), `make test` adds the test tools (test.txt).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
stamp = $(VENV)/.installed-$(1)-$(shell cat pyproject.toml requirements/$(1).txt | sha1sum | cut -c1-12)
SERVICE_STAMP := $(call stamp,service)
TEST_STAMP := $(call stamp,test)
PYTEST_ARGS ?=
ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
UV := $(BIN)/uv
LOCK := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

.PHONY: demo test lint bench lock check-fresh system-deps system-deps-test clean

demo: $(SERVICE_STAMP)
	$(BIN)/station demo $(DEMO_ARGS)

test: $(TEST_STAMP) lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check station tests bench
	$(BIN)/mypy

bench: $(TEST_STAMP)
	$(BIN)/python -m bench.run

# The README's set-up and `make demo` in a fresh Debian bookworm root (ARCH=arm64 runs under qemu-user).
check-fresh:
	scripts/fresh-root-check.sh $(ARCH)

system-deps:
	@scripts/system-deps.sh

system-deps-test:
	@scripts/system-deps.sh --test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(SERVICE_STAMP): | system-deps $(BIN)/python
	$(PIP) install -q --require-hashes -r requirements/service.txt
	$(PIP) install -q --no-deps -e .
	$(PIP) check
	@rm -f $(VENV)/.installed-service-*
	@touch $@

$(TEST_STAMP): | system-deps-test $(BIN)/python
	$(PIP) install -q --require-hashes -r requirements/test.txt
	$(PIP) install -q --no-deps -e .
	$(PIP) check
	@rm -f $(VENV)/.installed-test-*
	@touch $@

# Re-resolve requirements/*.txt from pyproject.toml, keeping the current pins where they still fit;
# `make lock UPGRADE=1` moves every pin to the newest release the bounds allow.
lock: $(UV)
	$(LOCK) pyproject.toml -o requirements/service.txt
	$(LOCK) pyproject.toml --extra test -c requirements/service.txt -o requirements/test.txt
	$(LOCK) requirements/tools.in -o requirements/tools.txt

$(UV): requirements/tools.txt | $(BIN)/python
	$(PIP) install -q --require-hashes -r requirements/tools.txt
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
