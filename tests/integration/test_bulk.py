"""A bulk action over every page of a filter runs as one job on a real worker, with progress."""

import time

import pytest
from django.utils import timezone

from jobs.audit.models import AuditEntry
from jobs.models import Job, JobStatus
from tests.factories import JobFactory
from tests.integration.conftest import wait_status

S = JobStatus
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_bulk_retry_over_10000_jobs_runs_as_one_job_with_progress(staff_client, staff_user, start_worker):
    finished = timezone.now()
    # On the "reports" queue, which this worker does not consume: the retried jobs wait there.
    Job.objects.bulk_create(
        JobFactory.build(status=S.FAILED, actor_name="echo", queue_name="reports", attempts=4, finished_at=finished)
        for _ in range(10_000)
    )
    Job.objects.bulk_create(
        JobFactory.build(status=S.FAILED, actor_name="noop", queue_name="reports") for _ in range(7)
    )
    start_worker(processes=1, threads=2, queues=["maintenance"])
    response = staff_client.post(
        "/api/v1/jobs/bulk", {"action": "retry", "filter": {"status": ["failed"], "actor": "echo"}}, format="json"
    )
    assert response.status_code == 202, response.content
    bulk_id = response.json()["id"]

    seen = []  # (progress, retried so far), sampled while the job runs
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        bulk = Job.objects.only("status", "progress").get(pk=bulk_id)
        if bulk.status == S.RUNNING:
            seen.append(
                (bulk.progress, Job.objects.filter(actor_name="echo", status__in=(S.PENDING, S.QUEUED)).count())
            )
        if bulk.status in (S.SUCCEEDED, S.FAILED):
            break
        time.sleep(0.05)
    bulk = wait_status(bulk_id, S.SUCCEEDED, timeout=5)

    assert bulk.result == {
        "action": "retry",
        "matched": 10_000,
        "processed": 10_000,
        "changed": 10_000,
        "state": "done",
    }
    assert bulk.progress == 100
    progress = [p for p, _ in seen]
    assert progress == sorted(progress), progress  # it only grows
    assert len({p for p in progress if 0 < p < 100}) >= 2, seen  # reported batch by batch, not at the end
    assert [n for _, n in seen] == sorted(n for _, n in seen)  # jobs move batch by batch, too
    assert Job.objects.filter(actor_name="echo", status__in=(S.PENDING, S.QUEUED)).count() == 10_000
    assert Job.objects.filter(actor_name="noop", status=S.FAILED).count() == 7
    entry = AuditEntry.objects.get(action="jobs.bulk_retry")
    assert (entry.user, entry.target_id, entry.count, entry.detail["state"]) == (staff_user, bulk_id, 10_000, "done")
    print(f"bulk retry of 10,000 jobs: {len(seen)} samples, progress {sorted(set(progress))}")
