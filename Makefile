# The two commands a newcomer needs:
#   make run    — set up .venv, migrate SQLite, seed a demo, serve on http://127.0.0.1:8000
#   make test   — the whole test suite, on SQLite and on PostgreSQL
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/altar
HOST ?= 127.0.0.1:8000

.PHONY: run test test-sqlite test-postgres lint faults-report

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-false} $(PY) manage.py runserver $(HOST)

test: test-sqlite test-postgres lint

test-sqlite: $(VENV)/.installed
	DATABASE_URL= $(PY) -m pytest -m "not postgres_only" $(PYTEST_ARGS)

# Skipped with the reason when no PostgreSQL answers, except under CI=true, where it fails.
test-postgres: $(VENV)/.installed
	@if $(PY) -c "import psycopg2,sys; psycopg2.connect('$(PG_TEST_URL)'.rsplit('/', 1)[0] + '/postgres', connect_timeout=3)" 2>/dev/null; then \
		DATABASE_URL=$(PG_TEST_URL) SECRET_KEY=$${SECRET_KEY:-tests-only-not-a-secret} $(PY) -m pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(PG_TEST_URL), and CI=true: failing"; exit 1; \
	else \
		echo "SKIPPED PostgreSQL suite: nothing answers at $(PG_TEST_URL)"; \
	fi

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# The fault suite's table (tests/faults, both databases): slots expected, ran, missed,
# duplicated and lost per fault, and recovery times. `make test` runs the same tests.
faults-report: $(VENV)/.installed
	$(PY) bench/faults_report.py --database-url $(PG_TEST_URL)_faults
