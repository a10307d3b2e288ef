# Station — every target sets itself up (system packages when root on Debian, a .venv, dependencies).
# Python dependencies come from the hash-locked files in requirements/ (`make lock` updates them):
# `make demo` installs the service's (requirements/service.txt) and the emulators (emulator/, a distribution of its own),
# `make test` adds the test tools (test.txt).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
stamp = $(VENV)/.installed-$(1)-$(shell cat pyproject.toml emulator/pyproject.toml requirements/$(1).txt | sha1sum | cut -c1-12)
SERVICE_STAMP := $(call stamp,service)
TEST_STAMP := $(call stamp,test)
PYTEST_ARGS ?=
ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
UV := $(BIN)/uv
LOCK := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

.PHONY: demo test lint bench docs catalogs lock check-fresh deb check-deb system-deps system-deps-test clean

demo: $(SERVICE_STAMP)
	$(BIN)/station demo $(DEMO_ARGS)

test: $(TEST_STAMP) lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check station emulator tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/deptry station
	cd emulator && ../$(BIN)/deptry .

bench: $(TEST_STAMP)
	$(BIN)/python -m bench.run

# Generated tables copied into the docs by this explicit step (a test run only writes them under build/):
# the compatibility matrix (key models × USB/NFC × policies) into README.md, and the fault matrix and the load
# run into tests/reliability/README.md.
docs: $(TEST_STAMP)
	$(BIN)/pytest -q tests/integration/test_compat_matrix.py tests/reliability/test_fault_matrix.py tests/reliability/test_load.py
	$(BIN)/python scripts/readme_compat.py
	$(BIN)/python tests/reliability/readme.py

# The message catalogs (station/locale, Babel from the test tools): the template from the sources, every language's
# station.po updated from it (translate its new, empty messages), and each station.mo compiled; commit them all.
catalogs: $(TEST_STAMP)
	$(BIN)/python scripts/catalogs.py extract
	$(BIN)/python scripts/catalogs.py compile

# The README's set-up and `make demo` in a fresh Debian bookworm root (ARCH=arm64 runs under qemu-user);
# PREBUILT=build|use|if-present starts from a cached root that has the system packages already.
check-fresh:
	STATION_FRESH_PREBUILT=$(PREBUILT) scripts/fresh-root-check.sh $(ARCH)

# dist/station_<version>_<arch>.deb: Station and its hash-locked dependencies in a virtualenv under /opt/station,
# built in a fresh bookworm root (scripts/build-deb.sh); check-deb installs it into another and removes it.
deb:
	scripts/build-deb.sh $(ARCH)

check-deb:
	scripts/check-deb.sh $(ARCH)

system-deps:
	@scripts/system-deps.sh

system-deps-test:
	@scripts/system-deps.sh --test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(SERVICE_STAMP): | system-deps $(BIN)/python
	$(PIP) install -q --require-hashes -r requirements/service.txt
	$(PIP) install -q --no-deps -e . -e ./emulator
	$(PIP) check
	@rm -f $(VENV)/.installed-service-*
	@touch $@

$(TEST_STAMP): | system-deps-test $(BIN)/python
	$(PIP) install -q --require-hashes -r requirements/test.txt
	$(PIP) install -q --no-deps -e . -e ./emulator
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
