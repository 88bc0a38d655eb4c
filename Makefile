# Two commands for a new user: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test setup lint format bench bench-dashboard bench-documents bench-multihost browser doctools multihost multihost-tools clean

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
run: setup doctools
	@trap '$(PY) manage.py ensure_redis --stop-started' EXIT; \
	$(PY) manage.py ensure_redis && \
	$(PY) manage.py ensure_admin && \
	$(PY) manage.py seed_demo && \
	echo "Dashboard: http://127.0.0.1:8000/  (API docs: http://127.0.0.1:8000/api/docs/)" && \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" WEB_BIND=127.0.0.1 WORKER_PROCESSES=$${WORKER_PROCESSES:-1} $(VENV)/bin/honcho -f Procfile start -p 8000 web worker scheduler

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

test: setup lint browser doctools multihost-tools
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
	$(PY) bench/documents.py

bench-dashboard: setup
	$(PY) bench/dashboard.py

bench-documents: setup doctools
	$(PY) bench/documents.py

# Root: the multi-host bed's namespaces. What a job costs the shared PostgreSQL and Redis (docs/capacity.md).
bench-multihost: setup multihost-tools
	$(PY) bench/multihost_capacity.py

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3
