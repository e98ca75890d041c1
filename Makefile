# The front door. `make run` starts the local stack; `make test` runs every test.
PY := .venv/bin/python
SETUP := .venv/.installed

.PHONY: setup run status test test-unit lint fmt typecheck docs docs-check bench clean

setup: $(SETUP)
$(SETUP): scripts/setup.sh requirements-dev.txt requirements-face.txt */pyproject.toml
	@scripts/setup.sh

run: $(SETUP)  ## broker, InfluxDB, ingest and both community simulators; Ctrl-C stops all
	@$(PY) -m hgj_devstack run

status: $(SETUP)  ## what `make run` has running, device counts and recent points
	@$(PY) -m hgj_devstack status

test: $(SETUP) lint docs-check  ## lint, type checks, generated docs current, then all tests
	@$(PY) -m pytest

test-unit: $(SETUP)
	@$(PY) -m pytest tests/unit

lint: $(SETUP)
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy

fmt: $(SETUP)
	@.venv/bin/ruff format .
	@.venv/bin/ruff check --fix .

docs: $(SETUP)  ## regenerate docs/mqtt-contract.md and docs/schemas/ from the contract
	@$(PY) -m hgj_devstack docs

docs-check: $(SETUP)
	@$(PY) -m hgj_devstack docs --check

bench: $(SETUP)  ## ingest throughput beside a raw pipe; figures in .bench/results.json
	@$(PY) -m hgj_devstack bench

clean:
	rm -rf .run .bench .mypy_cache .ruff_cache .pytest_cache
