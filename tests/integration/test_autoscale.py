"""run_worker --autoscale with a real supervisor: grows on a backlog, drains back when quiet."""

import time

import dramatiq
import psutil
import pytest

from jobs.audit.models import AuditEntry
from jobs.models import Job, JobAttempt, JobStatus
from jobs.worker.autoscale import AUDIT_ACTION
from tests.integration.actors import executions_key
from tests.integration.conftest import WorkerProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUIET_PERIOD = 5.0
AUTOSCALE_ENV = {
    "JOBS_AUTOSCALE_INTERVAL": "0.5",
    "JOBS_AUTOSCALE_MAX_WAIT": "2",
    "JOBS_AUTOSCALE_QUIET_PERIOD": str(QUIET_PERIOD),
    "JOBS_AUTOSCALE_MIN_FREE_MEMORY_MB": "0",  # the memory guard has its unit test
}


class AutoscaledWorker(WorkerProcess):
    def __init__(self, name: str, *, bounds: str, threads: int):
        super().__init__(name, threads=threads, env=AUTOSCALE_ENV)
        self.bounds = bounds

    def argv(self) -> list[str]:
        return ["run_worker", "--autoscale", self.bounds, "-t", str(self.threads)]

    def serving(self) -> int:
        """Worker processes alive (a draining one counts until it exits)."""
        count = 0
        for child in self.pool_children():
            try:
                count += child.status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                pass
        return count


def test_200_jobs_grow_the_pool_to_max_and_it_drains_back_to_min(staff_client, request):
    worker = AutoscaledWorker(request.node.name, bounds="1:3", threads=4).start()
    try:
        worker.wait_ready()
        assert worker.serving() == 1
        ids = []
        for _ in range(200):
            response = staff_client.post("/api/v1/jobs", {"actor": "t.slow", "kwargs": {"seconds": 1}}, format="json")
            assert response.status_code == 201, response.content
            ids.append(response.json()["id"])
        most = 0
        deadline = time.monotonic() + 180
        while Job.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() < 200:
            assert time.monotonic() < deadline, f"200 jobs not done in time (log {worker.log_path})"
            most = max(most, worker.serving())
            time.sleep(0.2)
        assert most == 3, f"the pool reached {most} processes, not 3"

        # Back to MIN within the quiet period (plus a process's drain and a few ticks).
        wait_for(lambda: worker.serving() == 1, timeout=QUIET_PERIOD + 15, message="the pool to shrink to 1")
        counts = dramatiq.get_broker().client.hgetall(executions_key())
        assert {int(counts[job_id.encode()]) for job_id in ids} == {1}, "every job ran exactly once"
        assert not JobAttempt.objects.filter(job_id__in=ids).exists(), "no attempt was lost to a retirement"
        changes = [(e.detail["from"], e.detail["to"]) for e in AuditEntry.objects.filter(action=AUDIT_ACTION)]
        assert (2, 3) in changes and changes[0][1] == 1, changes  # newest first: the shrink back to 1
    finally:
        worker.stop()
