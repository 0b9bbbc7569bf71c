# SpeedData: every target runs ./install first when something is missing (quick otherwise).
.DEFAULT_GOAL := help
SHELL := /bin/bash
BIN := build/speeddata

.PHONY: help install build demo notebook start stop test test-unit test-integration test-e2e test-fleet build-arm64 test-arm64 fuzz validate-schemas bench bench-pi docs clean

help: ## Show available targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## Install Debian packages, make .venv, build (idempotent)
	@./install

build: install ## Build (same as install once packages are there)

demo: ## The whole stack with the demo sources in the foreground (speeddata up --demo); Ctrl-C stops all
	@./install --bin
	@scripts/demo

notebook: ## Jupyter on the example notebook (for the stack of `make demo`), prints its URL
	@./install --bin
	@scripts/notebook

start: ## The whole stack with the demo sources in the background; pid in data/speeddata.pid, log data/speeddata.log
	@./install --bin
	@scripts/start $(ARGS)

stop: ## Stop what make start started (by its pid file)
	@scripts/stop

test: install ## Run every test (unit, integration, e2e, fleet)
	@cd build && ctest --output-on-failure -j2 --timeout 600

test-unit: install ## Run the quick unit tier only
	@cd build && ctest --output-on-failure -j2 -L unit

test-integration: install ## Run the integration tier (real processes and sockets)
	@cd build && ctest --output-on-failure -j2 -L integration

test-e2e: install ## Run the end-to-end tier
	@cd build && ctest --output-on-failure -j2 -L e2e

test-fleet: install ## Run the fleet tier (three hosts in network namespaces, NATS; docs/fleet.md)
	@cd build && ctest --output-on-failure -j2 -L fleet

# arm64 (Raspberry Pi, docs/raspberry-pi.md): a cross build in build-arm64/ (Debian's cross
# toolchain and :arm64 libraries, ./install --arm64) and its tests under qemu-user-static.
# ARM64_TARGETS narrows the build (CI builds only the unit tests: ARM64_TARGETS=arm64-unit).
ARM64_PRESET := $(if $(filter true,$(CI)),arm64-ci,arm64)
ARM64_TARGETS ?= all
ARM64_TESTS ?= -L 'unit|arm64'
build-arm64: ## Cross-compile everything for arm64 into build-arm64/ (./install --arm64 first)
	@./install --arm64
	@[[ -f build-arm64/build.ninja ]] || cmake --preset $(ARM64_PRESET) >/dev/null
	@nice -n 5 cmake --build build-arm64 -j2 --target $(ARM64_TARGETS)

test-arm64: build-arm64 ## Run the arm64 unit tests and the relay integration test under qemu-user-static
	@cd build-arm64 && nice -n 5 ctest --output-on-failure -j2 --timeout 900 $(ARM64_TESTS)

FUZZ_SECONDS ?= 30
fuzz: install ## Build the fuzz targets (clang, ASan+UBSan) and run each FUZZ_SECONDS (30) s
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run

validate-schemas: ## Validate every Avro schema in config/agents
	@./install --bin
	@$(BIN) schema validate config/agents/*.avsc

bench: install ## Run the benchmarks; figures go to docs/benchmarks.md
	@bench/run

bench-pi: install ## The Raspberry Pi profile: whole-stack memory (5 channels at 1 kHz) and instructions per record, native and under qemu
	@tests/netns-run .venv/bin/python bench/pi_bench.py

docs: ## Regenerate docs/config.md from the option table
	@./install --bin
	@$(BIN) config docs > docs/config.md

clean: ## Remove build artifacts and Python caches (keeps data/ and .venv)
	rm -rf build build-* tests/artifacts
	find . -path ./.venv -prune -o -path ./node_modules -prune -o \( -name __pycache__ -o -name .pytest_cache \) -type d -print0 | xargs -0 rm -rf
