# selfemployed-gateway: two commands on a fresh machine: `make run` and `make test`.

# The first interpreter that really runs and is 3.11, 3.12 or 3.13 (pyenv shims may exist but
# fail); 3.11 first, the oldest supported. spyne 2.14 needs src/selfemployed_gateway/spyne_compat.py
# on 3.12+ and legacy-cgi on 3.13. Another one: make test PYTHON=python3.13 VENV=.venv-3.13
PYTHON ?= $(shell for p in python3.11 python3.13 python3.12 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' \
	2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest pki clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11, 3.12 or 3.13 is needed:" \
		"install one, or run make PYTHON=/path/to/python3.13"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: development gateway + INASTI simulator on loopback (creates var/pki if absent)
run: install
	$(BIN)/selfemployed-gateway dev

pki: install
	$(BIN)/selfemployed-gateway dev-pki

lint: install
	$(BIN)/ruff check src tests bench examples/clients/python/consult
	$(BIN)/ruff format --check src tests bench examples/clients/python/consult

typecheck: install
	$(BIN)/mypy

# The container and client suites are apart: they need Docker, and the client stacks'
# tools (make test-container, make test-clients).
pytest: install
	$(BIN)/pytest --ignore=tests/container --ignore=tests/clients

## test: lint, type-check and the whole test suite
test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## bench: benchmarks on loopback, one table (docs/performance.md); BENCH_QUICK=1: a fast check
.PHONY: bench
bench: install
	$(BIN)/python -m bench

## soak: the abuse benchmark (60 s; ABUSE_SECONDS to change): abusive clients beside a
## well-behaved one, with its targets (docs/performance.md)
.PHONY: soak
soak: install
	$(BIN)/python -m bench.abuse

## image: the container image selfemployed-gateway:dev, on a Debian base made by mmdebstrap
## when absent (docker/build-image: needs Docker and mmdebstrap)
.PHONY: image test-container
image:
	docker/build-image

## test-container: the image as ops run it (tests/container: builds the image first);
## without a Docker daemon it says so and skips: not passed (SEG_CONTAINER_REQUIRED=1 fails)
test-container: install
	$(BIN)/pytest tests/container

## test-clients: the example clients of examples/clients (Java, Node.js, PHP, Python) built
## and run against a real gateway (tests/clients); a stack whose tools are missing is
## reported NOT RUN (SEG_CLIENTS_REQUIRED=1 fails instead)
.PHONY: test-clients
test-clients: install
	$(BIN)/pytest tests/clients
