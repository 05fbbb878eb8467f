# hlm360 — one entry point for people and CI. Every target installs what it needs (idempotent).
SHELL := /bin/bash
.DEFAULT_GOAL := help
REPO := $(abspath .)
# uv lives where this Makefile puts it (a venv under .local/), never where pip happens to put scripts:
# a root pip, a user pip and a pyenv shim all choose different places.
UV_VERSION := 0.13.9
UV_HOME := $(REPO)/.local/tools/uv
UV := $(UV_HOME)/bin/uv
PY := $(REPO)/.venv/bin/python
ENV := set -a && . $(REPO)/.local/env && . $(REPO)/.local/operator.env && set +a
PYTEST := $(ENV) && $(PY) -m pytest


.PHONY: assets help bootstrap stack up down status test test-unit test-contract test-integration test-e2e test-browser lint demo bench asyncapi fuzz

help:
	@echo "make demo   - bring everything up and run one complete 360 journey"
	@echo "make test   - install, start the stack and run every test tier, ruff and mypy"
	@echo "make up / make down / make status - the local stack and the four services (with the demo's people)"

bootstrap:
	@bash deploy/local/install-uv.sh "$(UV_HOME)" "$(UV_VERSION)"
	@$(UV) sync --all-packages --frozen --quiet
	@$(MAKE) --no-print-directory assets

# NHS.UK design system from npm, built into shared/web/static (served locally, never from a CDN).
assets: shared/web/static/.built
shared/web/static/.built: deploy/frontend/package-lock.json deploy/frontend/build.py
	@command -v npm >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm)
	@npm ci --prefix deploy/frontend --no-audit --no-fund --silent
	@$(PY) deploy/frontend/build.py
	@touch $@

stack: bootstrap
	@bash deploy/local/stack.sh up
	@$(ENV) && $(PY) -m deploy.local.kafka_access
	@$(ENV) && $(PY) -m shared.cli ensure-topics

# The local stack is the demo and test environment: after the services, the demo's fictional
# facilitators and regional leads (never in migrations, ADR 11; idempotent, so every `make up` may run it).
up: stack
	@bash deploy/local/services.sh up
	@$(ENV) && $(PY) -m scheduling seed-demo

down:
	@bash deploy/local/services.sh down || true
	@bash deploy/local/stack.sh down

status:
	@bash deploy/local/stack.sh status; bash deploy/local/monitoring.sh status; bash deploy/local/frontdoor.sh status; bash deploy/local/services.sh status

test-unit: bootstrap
	@bash deploy/local/monitoring.sh install
	@$(PY) -m pytest tests/unit -q

test-contract: bootstrap
	@$(PY) -m pytest tests/contract -q

# In-process services of the integration tier use their own topic namespace, never the real topics.
ITEST_NS = itest-$(shell date +%s)
test-integration: stack
	@$(ENV) && HLM360_TOPIC_NAMESPACE=$(ITEST_NS) $(PY) -m pytest tests/integration tests/fuzz -q -p no:cacheprovider

# Deeper fuzzing than make test's bounded run: every consumer (tests/fuzz) and every service's OpenAPI.
FUZZ_EXAMPLES ?= 300
fuzz: up
	@$(ENV) && HLM360_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) HLM360_TOPIC_NAMESPACE=$(ITEST_NS) $(PY) -m pytest tests/fuzz -q -p no:cacheprovider
	@$(ENV) && HLM360_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/e2e/test_openapi_fuzz.py -q -p no:cacheprovider

test-e2e: up
	@$(PYTEST) tests/e2e -q

test-browser: up
	@$(PYTEST) tests/browser -q

lint: bootstrap
	@$(PY) -m ruff check shared services tests deploy
	@$(PY) -m ruff format --check --quiet shared services tests deploy
	@$(PY) -m mypy shared deploy services/invitations/src services/ratings/src services/reports/src services/scheduling/src services/console/src services/observations/src

test: up
	@$(PYTEST) tests/unit tests/contract -q -p no:cacheprovider
	@$(MAKE) --no-print-directory test-integration
	@$(PYTEST) tests/e2e tests/browser -q -p no:cacheprovider
	@$(MAKE) --no-print-directory lint

demo: up
	@$(ENV) && $(PY) -m deploy.demo.journey

# Performance targets are checked here, never by timed unit tests (see services/reports/src/reports/bench.py).
bench: up
	@$(PY) -m reports.bench
	@$(ENV) && $(PY) -m deploy.bench.scaling

asyncapi: bootstrap
	@$(PY) -m shared.contracts.asyncapi
