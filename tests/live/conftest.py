"""The app served by gunicorn, as the Procfile runs it, on a throwaway database of its own.

``LiveApp`` creates a database (PostgreSQL when the tests run on it, else a SQLite file), runs the
release step on it, creates a staff user with a token and starts ``gunicorn --config
config/gunicorn.py config.wsgi``. Stopping it stops gunicorn, drops the database and deletes the
Redis keys of its own namespace. Nothing of the test database or of another run is touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import clear_redis_namespace

BASE_DIR = Path(settings.BASE_DIR)
LOG_DIR = BASE_DIR / "var" / "test-logs"
TOKEN_SCRIPT = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_user("live-staff", password="live-staff-pw-123", is_staff=True)
print(Token.objects.create(user=user).key)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_url(name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _admin_sql(sql: str) -> None:
    import psycopg2

    db = connection.settings_dict
    admin = psycopg2.connect(
        dbname="postgres", user=db["USER"], password=db.get("PASSWORD") or None, host=db["HOST"], port=db["PORT"]
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql)
    finally:
        admin.close()


class LiveApp:
    """One gunicorn serving the app; ``url``, ``token`` and ``env`` once started."""

    def __init__(self, name: str, *, env: dict | None = None, production: bool = False):
        self.name = name
        self.extra_env = env or {}
        self.production = production
        self.namespace = f"live-{uuid.uuid4().hex[:10]}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"live-{name}-"))
        self.proc: subprocess.Popen | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = None
        self.token = None

    # --- database ---------------------------------------------------------------------------

    def _create_database(self) -> str:
        if connection.vendor == "postgresql":
            self.database = f"{connection.settings_dict['NAME']}_live_{uuid.uuid4().hex[:8]}"[:63]
            _admin_sql(f'CREATE DATABASE "{self.database}"')
            return _postgres_url(self.database)
        self.database = str(self.workdir / "live.sqlite3")
        return f"sqlite:///{self.database}"

    def _drop_database(self) -> None:
        if self.database and connection.vendor == "postgresql":
            _admin_sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # --- processes ----------------------------------------------------------------------------

    def build_env(self) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            # The app as deployed: no test actors, no pytest settings leaking in.
            if key not in ("JOBS_EXTRA_ACTOR_MODULES", "DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS")
        }
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": settings.REDIS_URL,
                "DRAMATIQ_NAMESPACE": self.namespace,
                "STATIC_ROOT": str(self.workdir / "static"),
                "REPORTS_DIR": str(self.workdir / "reports"),
                "MEDIA_ROOT": str(self.workdir / "media"),
                "PORT": str(self.port),
                "WEB_BIND": "127.0.0.1",
                "WEB_CONCURRENCY": "2",
                "PYTHONUNBUFFERED": "1",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        if self.production:
            env.update(
                {
                    "DJANGO_ENV": "production",
                    "SECRET_KEY": "live-test-" + uuid.uuid4().hex * 2,
                    "ALLOWED_HOSTS": "127.0.0.1,localhost",
                    # The test speaks plain HTTP to gunicorn, as a TLS-terminating proxy would.
                    "SECURE_SSL_REDIRECT": "false",
                }
            )
        env.update(self.extra_env)
        return env

    def run(self, command: str, *, timeout: float = 300) -> str:
        """A command of the Procfile's kind (a shell line), in the app's environment."""
        result = subprocess.run(
            command, shell=True, cwd=BASE_DIR, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise AssertionError(f"{command!r} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def procfile_command(self, process: str) -> str:
        for line in (BASE_DIR / "Procfile").read_text().splitlines():
            name, _, command = line.partition(":")
            if name.strip() == process:
                return command.strip()
        raise AssertionError(f"the Procfile has no {process} process")

    def start(self) -> LiveApp:
        self.database_url = self._create_database()
        self.env = self.build_env()
        self.run(self.procfile_command("release"))
        self.token = self.run(f"{sys.executable} manage.py shell -c '{TOKEN_SCRIPT}'").strip().splitlines()[-1]
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"live-{self.name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.procfile_command("web"),
            shell=True,
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout: float = 60) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer within {timeout} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes: the children of the gunicorn process that has children."""
        family = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        masters = [p for p in family if "gunicorn" in " ".join(p.cmdline()) and p.children()]
        return [child.pid for child in masters[-1].children()] if masters else []

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()
        self._drop_database()
        clear_redis_namespace(self.namespace)
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def module_live_app_factory(django_db_blocker):
    """As ``live_app_factory``, for apps shared by the tests of one module."""
    yield from _factory(django_db_blocker)


@pytest.fixture
def live_app_factory(django_db_blocker):
    """Start LiveApps (``factory(name, env=..., production=...)``); all are stopped at the end."""
    yield from _factory(django_db_blocker)


def _factory(django_db_blocker):
    apps: list[LiveApp] = []

    def start(name: str, **options) -> LiveApp:
        app = LiveApp(name, **options)
        apps.append(app)
        with django_db_blocker.unblock():
            return app.start()

    yield start
    with django_db_blocker.unblock():
        for app in apps:
            app.stop()
