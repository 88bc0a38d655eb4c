"""The servers a scenario runs on: databases on the machine's PostgreSQL, a private PostgreSQL
cluster and private Redis servers that the test may restart or kill without disturbing anyone.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2
import redis

from jobs.management.commands.ensure_redis import redis_binary

BASE_DIR = Path(__file__).resolve().parents[2]
# Every process a run starts carries its run id in this variable: a later run finds what a killed
# run left behind (see tests/chaos/sweep.py).
RUN_ENV = "CHAOS_RUN_ID"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def migrate(url: str, log_path: Path) -> None:
    """``manage.py migrate`` against ``url`` (the engine's own schema, whatever it is by then)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    with open(log_path, "ab") as log:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=180,
        )


class PostgresServer:
    """Databases of the harness's own on one PostgreSQL server, made from a migrated template."""

    def __init__(self, url: str, *, prefix: str, log_dir: Path):
        self.url = url
        self.prefix = prefix
        self.log_dir = log_dir
        self.template: str | None = None
        self.created: list[str] = []

    def admin(self, sql: str) -> None:
        conn = psycopg2.connect(with_database(self.url, "postgres"), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def databases_like(self, prefix: str) -> list[str]:
        conn = psycopg2.connect(with_database(self.url, "postgres"), connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix])
                return [row[0] for row in cur.fetchall()]
        finally:
            conn.close()

    def create(self, tag: str) -> str:
        """A fresh, migrated database; returns its URL."""
        if self.template is None:
            self.template = f"{self.prefix}_tpl"
            self.admin(f'CREATE DATABASE "{self.template}"')
            self.created.append(self.template)
            migrate(with_database(self.url, self.template), self.log_dir / "migrate.log")
        name = f"{self.prefix}_{tag}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return with_database(self.url, name)

    def drop(self, url: str) -> None:
        name = database_name(url)
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self.created)):
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    return Path(found[-1]) if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb + pg_ctl), restartable at will.

    The server refuses to run as root: as root, its commands run as the ``postgres`` user.
    """

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"chaos-pg-{run_id}-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.started = False

    @staticmethod
    def available() -> str | None:
        """Why a private cluster cannot run here, or None if it can."""
        if postgres_bin_dir() is None:
            return "no /usr/lib/postgresql/*/bin (initdb, pg_ctl)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no postgres user to run the server"
            if shutil.which("runuser") is None:
                return "running as root without runuser"
        return None

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        env = {**os.environ, RUN_ENV: self.run_id}  # the server inherits it: a later run's sweep finds it
        subprocess.run(
            command, env=env, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )

    def start(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self.started = True
        return self

    def restart(self, mode: str) -> float:
        """``pg_ctl restart -m fast|immediate``; returns the seconds it took."""
        begin = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "-t", "60", "restart")
        return time.monotonic() - begin

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._kill_postmaster()
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


class PrivateRedis:
    """A Redis server of the test's own, as the broker; ``kill9`` and ``start`` again at will.

    ``persistent``: append-only file fsynced on every write, in a directory kept across restarts.
    """

    def __init__(self, run_id: str, *, persistent: bool):
        self.run_id = run_id
        self.persistent = persistent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"chaos-redis-{run_id}-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        with open(self.dir / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence],
                cwd=self.dir,
                env={**os.environ, RUN_ENV: self.run_id},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.answers, timeout=15, message=f"private redis on port {self.port}")
        return self

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False

    def kill9(self) -> float:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        return time.time()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
