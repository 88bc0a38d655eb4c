"""Real scheduler processes (``manage.py run_scheduler``) against the test database and Redis."""

import os
import signal
import subprocess
import sys
import time

import dramatiq
import pytest
from django.conf import settings

from jobs.scheduling import selectors
from tests.integration.conftest import BASE_DIR, LOG_DIR, start_worker, wait_for  # noqa: F401 (fixture)
from tests.integration.conftest import test_database_url as database_url


class SchedulerProcess:
    """``manage.py run_scheduler`` in its own process group, with its log in var/test-logs."""

    def __init__(self, name: str, *, env=None):
        self.name = name
        self.env = env or {}
        self.proc = None

    def start(self) -> "SchedulerProcess":
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DRAMATIQ_NAMESPACE": os.environ["DRAMATIQ_NAMESPACE"],
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self.log_path = LOG_DIR / f"{self.name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_scheduler"],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def is_active(self) -> bool:
        holder = selectors.scheduler_leader()["active"]
        return bool(holder) and holder.split(":")[1] == str(self.pid)

    def wait_active(self, timeout: float = 30.0) -> float:
        """Wait until this process holds the lease; returns when it took it (time.time(), to a few ms)."""
        wait_for(self.is_active, timeout=timeout, interval=0.05, message=f"{self.name} to lead (log {self.log_path})")
        remaining_ms = dramatiq.get_broker().client.pttl(selectors.leader_key())
        lease = float(self.env.get("SCHEDULER_LEASE_SECONDS", 15))
        return time.time() - (lease - remaining_ms / 1000)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.log.close()


@pytest.fixture
def start_scheduler(request):
    started = []

    def start(**env):
        scheduler = SchedulerProcess(
            f"{request.node.name}-scheduler-{len(started)}", env={k: str(v) for k, v in env.items()}
        ).start()
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        scheduler.stop()
    dramatiq.get_broker().client.delete(selectors.leader_key())
