# gongzhi — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/gongzhi
DATA_DIR ?= var/demo
PORT ?= 8000

.PHONY: install demo test test-sqlite test-postgres lint bench clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "gongzhi needs $(PYTHON) (set PYTHON=... to another 3.11 interpreter)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/gongzhi demo --data-dir $(DATA_DIR) --port $(PORT)

# The whole suite on the embedded SQLite database, then every database-backed test
# again on PostgreSQL. In CI (CI=true) PostgreSQL must be there: the run fails, never skips.
test: install lint test-sqlite test-postgres

lint:
	$(VENV)/bin/lint-imports --no-cache

test-sqlite:
	@echo "== tests on SQLite =="
	env -u GONGZHI_DATABASE_URL $(VENV)/bin/pytest -q -p no:cacheprovider

test-postgres:
	@echo "== database tests on PostgreSQL ($(PG_TEST_URL)) =="
	@if $(PY) -m gongzhi.devtools.pgcheck "$(PG_TEST_URL)"; then \
		GONGZHI_DATABASE_URL="$(PG_TEST_URL)" $(VENV)/bin/pytest -q -p no:cacheprovider -m "not pure"; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "PostgreSQL is required in CI but not reachable at $(PG_TEST_URL)"; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL not reachable at $(PG_TEST_URL); the PostgreSQL half of the suite did not run (set PG_TEST_URL=...)"; \
	fi

bench: install
	@for b in bench/bench_*.py; do echo "== $$b =="; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) var build *.egg-info src/*.egg-info
