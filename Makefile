# gongzhi — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/gongzhi
DATA_DIR ?= var/demo
PORT ?= 8000

.PHONY: install web-assets chromium demo test test-sqlite test-postgres lint bench clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "gongzhi needs $(PYTHON) (set PYTHON=... to another 3.11 interpreter)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed web-assets

# Leaflet, ECharts and htmx from the npm registry (exact versions in package-lock.json),
# copied into src/gongzhi/web/static/vendor/ (git-ignored); served locally, no CDN.
# Skipped when package-lock.json has not changed since the last copy (works offline).
WEB_VENDOR := src/gongzhi/web/static/vendor
web-assets: $(WEB_VENDOR)/VERSIONS.json
$(WEB_VENDOR)/VERSIONS.json: package.json package-lock.json src/gongzhi/web/assets.py | $(VENV)/.installed
	@command -v npm >/dev/null || { echo "gongzhi needs npm (Node.js 20) to install the web assets (Leaflet, ECharts, htmx): apt-get install -y nodejs npm"; exit 1; }
	npm ci --no-audit --no-fund
	$(PY) -m gongzhi.web.assets

# The end-to-end tests drive Debian's chromium (never a downloaded browser build); a CJK font
# (Debian's fonts-noto-cjk) makes the Chinese pages in their screenshots readable.
chromium:
	@need=""; command -v chromium >/dev/null || need="chromium"; \
	fc-list 2>/dev/null | grep -qi 'CJK' || need="$$need fonts-noto-cjk"; \
	if [ -z "$$need" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; \
	else echo "missing and not installable here (not root): $$need — the end-to-end tests skip without chromium (fail in CI); screenshots show no Chinese without a CJK font"; fi

demo: install
	$(VENV)/bin/gongzhi demo --data-dir $(DATA_DIR) --port $(PORT)

# The whole suite on the embedded SQLite database, then every database-backed test
# again on PostgreSQL. In CI (CI=true) PostgreSQL must be there: the run fails, never skips.
test: install chromium lint test-sqlite test-postgres

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
