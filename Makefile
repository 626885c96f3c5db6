# rebal — every target documents itself: `make help`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY := .venv/bin/python
UV := python3 -m uv
PYTEST_ARGS ?=

REPEAT ?= 5
# The broker of the Kafka suites (integration, e2e, fault); `make demo` / `make dev` keep Tansu.
KAFKA ?= apache
# The zero-Java default stays proven too: the delivery guarantees and one demo day on Tansu.
TANSU_SMOKE := libs/runtime/tests/integration/test_delivery_guarantees.py \
	libs/runtime/tests/integration/test_batch_consume.py tests/e2e/test_demo_day.py

.PHONY: help install test test-fast test-repeat lint format asyncapi dev prod-like demo bench \
	compose-check kafka-jars ferretdb clean fuzz browser ui-assets

help: ## Show the targets and what they do
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: .venv/.installed ## Install Python deps of every lib and service (uv workspace, locked)

.venv/.installed: pyproject.toml uv.lock libs/*/pyproject.toml services/*/pyproject.toml
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.5' \
		|| python3 -m pip install --quiet --break-system-packages 'uv>=0.5'
	$(UV) sync --all-packages --locked
	@touch $@

test: install compose-check kafka-jars ferretdb browser ## Run every test on Apache Kafka, then the Tansu smoke suite
	$(PY) -m pytest --kafka-broker=$(KAFKA) $(PYTEST_ARGS)
	$(PY) -m pytest --kafka-broker=tansu -p no:cacheprovider $(TANSU_SMOKE)

test-repeat: install kafka-jars ferretdb ## Run the whole-stack suites REPEAT times (default 5); list every test that failed once
	$(PY) scripts/test_repeat.py --repeat $(REPEAT) --kafka-broker=$(KAFKA) $(PYTEST_ARGS)

test-fast: install ferretdb ## Unit and contract tests only (no Kafka broker; the contract suite runs over FerretDB too)
	$(PY) -m pytest -m "not kafka" $(PYTEST_ARGS) libs/schemas libs/runtime/tests/contract services/*/tests/unit

FUZZ_EXAMPLES ?= 300
fuzz: install ## Fuzz the api from its OpenAPI document (schemathesis), FUZZ_EXAMPLES per operation (CI: 30)
	REBAL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -p no:cacheprovider services/api/tests/integration/test_openapi_fuzz.py

kafka-jars: ## Fetch the Apache Kafka broker jars from Maven Central into var/kafka/ (cached; Java 17 + Maven)
	bash scripts/fetch-kafka.sh

ferretdb: ## Build FerretDB (Mongo wire protocol, SQLite backend) into var/bin/rebal-ferretdb (cached; Go >= 1.24)
	scripts/build-ferretdb.sh

lint: install ## ruff (lint and format check) + mypy --strict on every package
	$(PY) -m ruff check libs services demo tests bench scripts
	$(PY) -m ruff format --check libs services demo tests bench scripts
	$(PY) -m mypy -p rebal_schemas -p rebal_runtime -p rebal_optimizer -p rebal_order_router \
		-p rebal_settlement_tracker -p rebal_scheduler -p rebal_broker_sim -p rebal_api -p rebal_client \
		-p rebal_demo
	@# bench/: scripts, not a package (pyproject's mypy excludes it from discovery); with bench/ as a
	@# base their shared modules resolve as they do at run time (baseline, steady_load)
	MYPYPATH=bench $(PY) -m mypy bench/*.py bench/*/*.py

format: install ## Format the code (ruff)
	$(PY) -m ruff format libs services demo tests scripts bench

asyncapi: install ## Regenerate docs/asyncapi/*.json (from the services), docs/schemas/*.json and docs/openapi/api.json
	$(PY) scripts/gen_asyncapi.py docs/asyncapi
	$(PY) -m rebal_api.entrypoints.openapi docs/openapi/api.json
	$(PY) -m rebal_schemas.jsonschema docs/schemas

dev: install ## Start the embedded broker, the simulator and every service; Ctrl-C stops all
	$(PY) -m rebal_runtime.stack

prod-like: install kafka-jars ferretdb ## The compose topology as processes: Apache Kafka, 2 instances per scalable service, scheduler on FerretDB; Ctrl-C stops all
	$(PY) -m rebal_runtime.prodlike

demo: install ## The main job: fund and rebalance N portfolios end to end on the embedded stack
	@# chromium only for the dashboard's screenshots: the demo itself needs nothing but Python
	@$(MAKE) --no-print-directory browser >/dev/null 2>&1 \
		|| echo "make demo: no chromium (apt-get failed); the demo runs without the dashboard screenshots"
	@if $(PY) -c "import rebal_demo" 2>/dev/null; then $(PY) -m rebal_demo $(DEMO_ARGS); \
	else echo "make demo: not built yet (issue 'End to end'); try 'make dev' and 'make test'"; fi

bench: install ## Run the benchmarks in bench/ (figures and ratios, not pass/fail)
	@for b in bench/*/run.py; do [ -f "$$b" ] && $(PY) "$$b"; done; true

CHROMIUM := /usr/bin/chromium
browser: ## Install Debian's chromium (the dashboard's browser tests and the demo's screenshots drive it headless)
	@[ -x $(CHROMIUM) ] || { echo "installing chromium (Debian package) for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends chromium; fi >/dev/null; }
	@$(CHROMIUM) --version 2>/dev/null

ui-assets: ## Refresh the dashboard's vendored htmx and Chart.js from npm (services/api/ui-assets/package-lock.json)
	bash scripts/vendor-ui-assets.sh

compose-check: ## Validate deploy/docker-compose.yml with docker-compose config -q (installs docker-compose)
	@command -v docker-compose >/dev/null 2>&1 || { \
		echo "installing docker-compose (Debian package) to validate deploy/docker-compose.yml"; \
		{ apt-get update -qq && apt-get install -y -qq docker-compose; } >/dev/null 2>&1 \
		|| { sudo apt-get update -qq && sudo apt-get install -y -qq docker-compose; } >/dev/null; }
	docker-compose -f deploy/docker-compose.yml config -q && echo "deploy/docker-compose.yml is valid"

clean: ## Remove the venv, caches and local state (var/)
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache
