# meterbase — the two commands a fresh machine needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8080
DB ?= sqlite:///var/meterbase.db
TEST_WORKERS ?= 3

.PHONY: run test install dev bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@ $(STAMP)

install: $(STAMP)

dev: $(DEV_STAMP)

# Server + dashboard on SQLite with a demo dataset (idempotent: re-running does not duplicate it).
run: $(STAMP)
	@mkdir -p var
	MB_DATABASE_URL=$(DB) $(BIN)/meterbase demo --quiet
	MB_DATABASE_URL=$(DB) $(BIN)/meterbase serve --host $(HOST) --port $(PORT)

test: $(DEV_STAMP)
	@test -x /usr/bin/chromium || bash .ci/ensure-chromium.sh  # Debian chromium for tests/dashboard
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis test-output
