# Two commands for a new user: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test setup lint format bench clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0

# Starts web, worker and scheduler (Procfile, via honcho); Ctrl-C stops all, and a Redis it started.
run: setup
	@trap '$(PY) manage.py ensure_redis --stop-started' EXIT; \
	$(PY) manage.py ensure_redis && \
	$(PY) manage.py ensure_admin && \
	$(PY) manage.py seed_demo && \
	echo "Dashboard: http://127.0.0.1:8000/  (API docs: http://127.0.0.1:8000/api/docs/)" && \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" WEB_BIND=127.0.0.1 WORKER_PROCESSES=$${WORKER_PROCESSES:-1} $(VENV)/bin/honcho -f Procfile start -p 8000 web worker scheduler

test: setup lint
	@trap '$(PY) manage.py ensure_redis --stop-started' EXIT; \
	$(PY) manage.py ensure_redis && \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3
