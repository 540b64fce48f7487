# Pulse: the two commands are `make run` and `make test`.
# Private PostgreSQL/Redis live under .run/ (see scripts/devstack.py); set DATABASE_URL
# (admin URL) / REDIS_URL to use external ones instead.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PY := .venv/bin/python
DEVSTACK := $(PY) scripts/devstack.py
# Extra arguments: `make test ARGS="-k checks -x"` (passed to the final pytest step).
ARGS ?=

.PHONY: help bootstrap run test smoke audit lint bench faults services-up services-down shell clean-run

help: ## list targets
	@echo "Pulse targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "Variables: ARGS=\"...\" (extra pytest args for test), PULSE_PORT (run, default 8000),"
	@echo "           PULSE_TEST_ONLY=pytest (test: skip lint/mypy/migrations/invariants),"
	@echo "           DATABASE_URL / REDIS_URL (use external services instead of private ones)"

bootstrap: ## create .venv from requirements/dev.lock, install Debian postgresql/redis-server
	@bash scripts/bootstrap.sh

run: bootstrap ## start the app: private db/redis, migrate, seed demo, web + worker + beat
	@$(DEVSTACK) run

test: ## the full gate: ruff, format, mypy, migrations check, audit, invariants, pytest, smoke
	@bash scripts/bootstrap.sh --browser
	@$(DEVSTACK) test $(ARGS)

smoke: ## production shape on loopback (nginx + TLS, prod settings, workers, beat): HTTPS/WSS checks + browser workflows
	@bash scripts/bootstrap.sh --browser
	@$(PY) -m smoke $(ARGS)

audit: bootstrap ## dependency audit of the locks (pip-audit) and package-lock.json (npm audit)
	@$(PY) scripts/audit.py

lint: bootstrap ## ruff check, ruff format --check and mypy
	@$(DEVSTACK) exec -- ruff check .
	@$(DEVSTACK) exec -- ruff format --check .
	@$(DEVSTACK) exec -- mypy .

bench: bootstrap ## all benchmarks: check cycle vs naive, alert latency, ingest (JSON in artifacts/)
	@$(DEVSTACK) exec -- python -m bench $(ARGS)
	@$(DEVSTACK) exec -- python -m bench.alerts
	@$(DEVSTACK) exec -- python -m bench.ingest

faults: bootstrap ## fault suite: kill -9 each process, restart Redis/PostgreSQL (own private servers; artifacts/faults.json)
	@$(PY) -m bench.faults $(ARGS)

services-up: bootstrap ## start private postgres + redis and write .run/env
	@$(DEVSTACK) up

services-down: ## stop private postgres + redis
	@if [ -x $(PY) ]; then $(DEVSTACK) down; fi

shell: bootstrap ## Django shell with the dev environment loaded
	@$(DEVSTACK) exec -- python manage.py shell

clean-run: ## stop private services and delete .run/ (all local db/redis data)
	@if [ -x $(PY) ]; then $(DEVSTACK) clean; else rm -rf .run; fi
