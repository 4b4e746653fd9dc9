# Cadre — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/cadre
AXE_VERSION := 4.14.1
export DJANGO_SETTINGS_MODULE ?= config.settings
# The suite's own settings (tasks run where they are enqueued, fast hashing): the variable above
# would otherwise win over pyproject.toml's.
TEST_SETTINGS := config.test_settings
# The suite over every core (pytest-xdist); tests/conftest.py groups them so that a module stays on one worker.
TEST_WORKERS ?= auto
PYTEST := $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup

.PHONY: run serve install install-dev db demo test test-sqlite test-postgres browser-deps quality format bench bench-observatory bench-indicators bench-pages bench-scdl bench-registry bench-monitoring clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip >/dev/null
	$(PY) -m pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.txt -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

db: install
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py load_territories
	$(PY) manage.py load_questionnaire
	$(PY) manage.py load_indicators
	$(PY) manage.py load_funding_schemes
	$(PY) manage.py load_alert_rules

demo: db
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py rebuild_indicators

# The web server and, beside it, the worker of the task queue (large imports, reports…); both stop together.
run: demo
	@$(PY) manage.py demo_accounts
	@echo "Cadre : http://127.0.0.1:$(PORT)/"
	@DJANGO_DEBUG=true $(PY) manage.py db_worker -v0 & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DJANGO_DEBUG=true $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Debian's Chromium (never a downloaded browser) and the axe-core audit script.
browser-deps:
	@{ command -v chromium && command -v pdftoppm && command -v pdftotext; } >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium poppler-utils fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null; }
	@test -f .cache/axe/node_modules/axe-core/axe.min.js || npm install --silent --no-save --no-package-lock --prefix .cache/axe axe-core@$(AXE_VERSION)

test: install-dev browser-deps
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

test-sqlite: install-dev
	DATABASE_URL= DJANGO_SETTINGS_MODULE=$(TEST_SETTINGS) $(PYTEST)

test-postgres: install-dev
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	DATABASE_URL=$(PG_URL) DJANGO_SETTINGS_MODULE=$(TEST_SETTINGS) $(PYTEST) --create-db

quality: install-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/djlint --check cadre
	$(VENV)/bin/djlint --lint cadre
	$(PY) manage.py makemigrations --check --dry-run

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/djlint --reformat cadre || true

bench: install-dev
	$(PY) benchmarks/foundation.py

bench-observatory: install-dev
	$(PY) benchmarks/observatory.py

bench-pages: install-dev
	$(PY) benchmarks/pages.py

bench-scdl: install-dev
	$(PY) benchmarks/scdl.py

bench-registry: install-dev
	$(PY) benchmarks/registry.py

bench-indicators: install-dev
	$(PY) benchmarks/indicators.py

bench-monitoring: install-dev
	$(PY) benchmarks/monitoring.py

clean:
	rm -rf $(VENV) .cache db.sqlite3 staticfiles
