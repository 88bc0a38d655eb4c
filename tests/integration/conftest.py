"""Real worker processes against the real test database and Redis."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection

from jobs.models import Job, Worker
from tests.conftest import clear_redis_namespace

BASE_DIR = Path(settings.BASE_DIR)
LOG_DIR = BASE_DIR / "var" / "test-logs"

# Fast engine timings for the tests (defaults are for production).
FAST_ENGINE_ENV = {
    "JOBS_HEARTBEAT_INTERVAL": "0.5",
    "JOBS_LIVENESS_TIMEOUT": "4",
    "JOBS_HARD_LIMIT_GRACE": "1",
    "JOBS_DISPATCH_INTERVAL": "0.1",
    "JOBS_MAINTENANCE_INTERVAL": "1",
    "JOBS_LOST_MESSAGE_AGE": "3",
    "dramatiq_worker_timeout": "100",
    "dramatiq_restart_delay": "500",
}


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


class ManagedProcess:
    """A ``manage.py`` command in its own process group, with its log in var/test-logs."""

    extra_env: dict = {}

    def __init__(self, name: str, *, env=None):
        self.name = name
        self.env = env or {}
        self.proc = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.extra_env,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self.log_path = LOG_DIR / f"{self.name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", *self.argv()],
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

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.log.close()


class WorkerProcess(ManagedProcess):
    """``manage.py run_worker`` with fast engine timings."""

    extra_env = FAST_ENGINE_ENV

    def __init__(self, name: str, *, processes=1, threads=4, queues=None, env=None):
        super().__init__(name, env=env)
        self.processes = processes
        self.threads = threads
        self.queues = queues

    def argv(self) -> list[str]:
        argv = ["run_worker", "-p", str(self.processes), "-t", str(self.threads)]
        return argv + ["--queues", *self.queues] if self.queues else argv

    def pool_children(self) -> list[psutil.Process]:
        """The worker processes: the supervisor's children."""
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def wait_ready(self, timeout: float = 30.0) -> None:
        known = set(self.pool_children_pids())

        def ready():
            pids = self.pool_children_pids()
            ready = Worker.objects.filter(pid__in=pids, stopped_at__isnull=True, ready_at__isnull=False)
            return pids and ready.count() >= len(pids)

        wait_for(ready, timeout=timeout, message=f"worker {self.name} to heartbeat (log {self.log_path})")
        return known

    def pool_children_pids(self) -> list[int]:
        return [p.pid for p in self.pool_children()]

    def kill_child(self) -> int:
        child = self.pool_children()[0]
        child.send_signal(signal.SIGKILL)
        return child.pid


@pytest.fixture
def start_worker(request):
    # The tests of one xdist worker share a Redis namespace, and a unit test may leave messages
    # behind (a bulk retry publishes 10,000): a real worker would first drop them one by one, for
    # jobs its flushed database no longer holds. Each worker test starts on an empty broker.
    clear_redis_namespace()
    started = []

    def start(**kwargs):
        worker = WorkerProcess(f"{request.node.name}-{len(started)}", **kwargs).start()
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def job_status(job_id) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


def wait_status(job_id, statuses, *, timeout: float):
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    return wait_for(
        lambda: job_status(job_id) in statuses and Job.objects.get(pk=job_id),
        timeout=timeout,
        interval=0.1,
        message=f"job {job_id} to reach {statuses}",
    )
