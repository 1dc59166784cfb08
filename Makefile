# Every target sets itself up: a fresh machine needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test lint bench bench-down kafka-up kafka-down clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/govbus dev kafka fetch

system-deps:
	bash deploy/local/install-system-deps.sh

## The main job: local Kafka + SQLite, one department publishing to the base store.
demo: setup
	bash deploy/local/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/govbus schemas check

## The tests: lint, type-check, the schema gate, then pytest against real Kafka and PostgreSQL.
test: system-deps setup lint
	$(BIN)/pytest

## Benchmarks against raw baselines in the same run; results go in docs/benchmarks.md.
bench: system-deps setup
	export GOVBUS_BOOTSTRAP_SERVERS=$$($(BIN)/govbus dev kafka up --name bench) && \
	export BENCH_PG_DSN=$$($(BIN)/govbus dev postgres up --name bench) && \
	export GOVBUS_LOG_LEVEL=WARNING && \
	$(BIN)/python -m bench.serde && \
	$(BIN)/python -m bench.publish && \
	$(BIN)/python -m bench.decode && \
	$(BIN)/python -m bench.sync

bench-down: $(STAMP)
	-$(BIN)/govbus dev kafka down --name bench
	-$(BIN)/govbus dev postgres down --name bench

kafka-up: setup
	$(BIN)/govbus dev kafka up

kafka-down: $(STAMP)
	$(BIN)/govbus dev kafka down

clean:
	-$(BIN)/govbus dev kafka down
	rm -rf $(VENV) .govbus
