# Every target sets itself up: a fresh machine needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NATIVE_STAMP := $(VENV)/.native
# rustup's cargo, where a login shell would have put it.
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup system-deps demo test lint bench bench-down kafka-up kafka-down clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## The native hot paths (native/, Rust via maturin): rebuilt when their sources change.
$(NATIVE_STAMP): $(STAMP) native/Cargo.toml native/pyproject.toml native/govbus_native.pyi $(wildcard native/src/*.rs)
	$(BIN)/pip install -q ./native
	touch $(NATIVE_STAMP)

setup: $(STAMP) $(NATIVE_STAMP)
	$(BIN)/govbus dev kafka fetch

system-deps:
	bash deploy/local/install-system-deps.sh

## The main job: local Kafka + SQLite, one department publishing to the base store.
demo: setup
	bash deploy/local/demo.sh

lint: $(STAMP) $(NATIVE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/govbus schemas check
	cd native && cargo fmt --check && cargo test --release --quiet

## The tests: lint, type-check, the schema gate, then pytest against real Kafka and PostgreSQL.
test: system-deps setup lint
	$(BIN)/pytest

## Benchmarks against raw baselines in the same run; results go in docs/benchmarks.md.
bench: system-deps setup
	export GOVBUS_BOOTSTRAP_SERVERS=$$($(BIN)/govbus dev kafka up --name bench --no-record) && \
	export BENCH_PG_DSN=$$($(BIN)/govbus dev postgres up --name bench) && \
	export GOVBUS_LOG_LEVEL=WARNING && \
	$(BIN)/python -m bench.serde && \
	$(BIN)/python -m bench.publish && \
	$(BIN)/python -m bench.decode && \
	$(BIN)/python -m bench.sync && \
	$(BIN)/python -m bench.lookups

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
