# SpeedData: every target runs ./install first when something is missing (quick otherwise).
.DEFAULT_GOAL := help
SHELL := /bin/bash
BIN := build/speeddata

.PHONY: help install build demo test test-unit test-integration test-e2e validate-schemas bench docs clean

help: ## Show available targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## Install Debian packages, make .venv, build (idempotent)
	@./install

build: install ## Build (same as install once packages are there)

demo: install ## Start the example relay with the demo source, live figures; Ctrl-C stops all
	@scripts/demo

test: install ## Run every test (unit, integration, e2e)
	@cd build && ctest --output-on-failure -j2 --timeout 600

test-unit: install ## Run the quick unit tier only
	@cd build && ctest --output-on-failure -j2 -L unit

test-integration: install ## Run the integration tier (real processes and sockets)
	@cd build && ctest --output-on-failure -j2 -L integration

test-e2e: install ## Run the end-to-end tier
	@cd build && ctest --output-on-failure -j2 -L e2e

validate-schemas: install ## Validate every Avro schema in config/agents
	@$(BIN) schema validate config/agents/*.avsc

bench: install ## Run the benchmarks; figures go to docs/benchmarks.md
	@bench/run

docs: install ## Regenerate docs/config.md from the option table
	@$(BIN) config docs > docs/config.md

clean: ## Remove build artifacts (keeps data/ and .venv)
	rm -rf build build-* tests/artifacts
