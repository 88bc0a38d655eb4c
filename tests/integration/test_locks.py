"""Job locks across real worker processes: two jobs taking the same lock never overlap."""

import dramatiq
import pytest

from jobs.models import Job, JobStatus
from tests.integration.actors import lock_intervals_key
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_jobs_taking_the_same_lock_in_two_workers_never_overlap(staff_client, start_worker):
    start_worker(processes=1, threads=2)
    start_worker(processes=1, threads=2)
    # Each job holds the lock longer than its expiry: only the renewal keeps the others out.
    for _ in range(6):
        response = staff_client.post(
            "/api/v1/jobs", {"actor": "t.locked", "kwargs": {"seconds": 2.0, "timeout": 1.5}}, format="json"
        )
        assert response.status_code == 201, response.content
    wait_for(
        lambda: Job.objects.filter(actor_name="t.locked", status=JobStatus.SUCCEEDED).count() == 6,
        timeout=90,
        interval=0.5,
        message="six locked jobs to succeed",
    )
    rows = [raw.decode().split(":") for raw in dramatiq.get_broker().client.lrange(lock_intervals_key(), 0, -1)]
    intervals = sorted((float(start), float(end)) for start, end, _ in rows)
    assert len(intervals) == 6
    for (_, previous_end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= previous_end, f"overlap: {intervals}"
    assert len({pid for _, _, pid in rows}) == 2, "both worker processes ran locked jobs"
