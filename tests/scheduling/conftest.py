"""Real scheduler processes (``manage.py run_scheduler``) against the test database and Redis."""

import time

import dramatiq
import pytest

from jobs.scheduling import selectors
from tests.conftest import clear_redis_namespace
from tests.integration.conftest import ManagedProcess, start_worker, wait_for  # noqa: F401 (fixture)


class SchedulerProcess(ManagedProcess):
    """``manage.py run_scheduler`` against the test database and Redis."""

    def argv(self) -> list[str]:
        return ["run_scheduler"]

    def is_active(self) -> bool:
        holder = selectors.scheduler_leader()["active"]
        return bool(holder) and holder.split(":")[1] == str(self.pid)

    def wait_active(self, timeout: float = 30.0) -> float:
        """Wait until this process holds the lease; returns when it took it (time.time(), to a few ms)."""
        wait_for(self.is_active, timeout=timeout, interval=0.05, message=f"{self.name} to lead (log {self.log_path})")
        remaining_ms = dramatiq.get_broker().client.pttl(selectors.leader_key())
        lease = float(self.env.get("SCHEDULER_LEASE_SECONDS", 15))
        return time.time() - (lease - remaining_ms / 1000)


@pytest.fixture
def start_scheduler(request):
    clear_redis_namespace()  # messages other tests left behind are not this test's (see start_worker)
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
