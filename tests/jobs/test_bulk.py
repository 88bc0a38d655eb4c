from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.audit.models import AuditEntry
from jobs.bulk.services import jobs_bulk_apply, jobs_bulk_submit
from jobs.errors import ValidationFailed
from jobs.models import Job, JobStatus
from tests.factories import JobFactory

S = JobStatus
pytestmark = pytest.mark.django_db


def make(n, **fields):
    return Job.objects.bulk_create([JobFactory.build(**fields) for _ in range(n)])


def test_a_bulk_retry_over_10000_jobs_moves_them_in_batches_with_growing_progress():
    make(10_000, status=S.FAILED, actor_name="echo", attempts=4, finished_at=timezone.now())
    make(5, status=S.FAILED, actor_name="demo.flaky", attempts=1)  # outside the filter
    make(5, status=S.SUCCEEDED, actor_name="echo")  # matched by the filter, not retryable
    bulk = jobs_bulk_submit(action="retry", filters={"actor": "echo"})
    seen = []
    result = jobs_bulk_apply(
        action="retry",
        filters={"actor": "echo"},
        bulk_job_id=bulk.pk,
        on_batch=lambda done, total, changed: seen.append((done, total, changed)),
    )
    assert result == {"action": "retry", "matched": 10_000, "processed": 10_000, "changed": 10_000, "state": "done"}
    assert [done for done, _, _ in seen] == list(range(500, 10_001, 500))
    assert all(total == 10_000 for _, total, _ in seen)
    assert Job.objects.filter(actor_name="echo", status=S.PENDING).count() == 10_000
    retried = Job.objects.filter(actor_name="echo", status=S.PENDING).first()
    # The actor's budget again (echo: 3 retries) after the 4 attempts made; backoff restarts.
    assert (retried.max_attempts, retried.retry_cycle_start, retried.dispatch_token) == (8, 4, 1)
    assert Job.objects.filter(actor_name="demo.flaky", status=S.FAILED).count() == 5
    entry = AuditEntry.objects.get(action="jobs.bulk_retry")
    assert (entry.target_type, entry.target_id, entry.count) == ("job", str(bulk.pk), 10_000)
    assert entry.detail["filter"] == {"actor": "echo"} and entry.detail["state"] == "done"


def test_bulk_cancel_delete_and_run_now_touch_only_the_states_they_can():
    soon = timezone.now() + timedelta(hours=1)
    waiting = make(3, status=S.QUEUED, queue_name="reports")
    running = make(2, status=S.RUNNING, queue_name="reports")
    done = make(2, status=S.SUCCEEDED, queue_name="reports")
    scheduled = make(2, status=S.SCHEDULED, queue_name="reports", available_at=soon, eta=soon)
    other = make(2, status=S.QUEUED, queue_name="default")

    assert jobs_bulk_apply(action="run_now", filters={"queue": "reports"})["changed"] == 2
    assert all(j.available_at <= timezone.now() for j in Job.objects.filter(pk__in=[j.pk for j in scheduled]))
    assert jobs_bulk_apply(action="cancel", filters={"queue": "reports"})["changed"] == 7
    assert Job.objects.filter(pk__in=[j.pk for j in waiting + scheduled], status=S.CANCELLED).count() == 5
    assert Job.objects.filter(pk__in=[j.pk for j in running], cancel_requested_at__isnull=False).count() == 2
    assert Job.objects.filter(pk__in=[j.pk for j in other], status=S.QUEUED).count() == 2
    deleted = jobs_bulk_apply(action="delete", filters={"queue": "reports", "status": ["succeeded", "cancelled"]})
    assert deleted["changed"] == 7
    assert not Job.objects.filter(pk__in=[j.pk for j in done]).exists()
    assert Job.objects.filter(queue_name="reports").count() == 2  # the running ones stay


def test_a_destructive_action_with_an_empty_filter_is_refused_and_submits_nothing():
    for action in ("cancel", "delete"):
        with pytest.raises(ValidationFailed):
            jobs_bulk_submit(action=action, filters={})
        with pytest.raises(ValidationFailed):
            jobs_bulk_submit(action=action, filters={"actor": ""})
    with pytest.raises(ValidationFailed):
        jobs_bulk_submit(action="retry", filters={"actr": "echo"})
    assert not Job.objects.exists() and not AuditEntry.objects.exists()


def test_the_api_answers_202_with_the_bulk_job(staff_client, staff_user):
    response = staff_client.post(
        "/api/v1/jobs/bulk", {"action": "retry", "filter": {"status": ["failed"], "actor": "echo"}}, format="json"
    )
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.actor_name == "jobs.bulk" and job.queue_name == "maintenance"
    assert job.kwargs == {"action": "retry", "filters": {"actor": "echo", "status": ["failed"]}}
    assert AuditEntry.objects.get(action="jobs.bulk_retry").user == staff_user


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "delete"},
        {"action": "delete", "filter": {}},
        {"action": "cancel", "filter": {"actor": ""}},
        {"action": "cancel", "filter": {"status": []}},
        {"action": "retry", "filter": {"status": ["failed", "failed"]}},
        {"action": "cancel", "filter": {"created_after": "2026-01-01T00:00:00"}},  # no zone
        {"action": "cancel", "filter": {"owner": "me"}},
        {"action": "explode", "filter": {"actor": "echo"}},
    ],
)
def test_the_api_refuses_a_filter_that_would_widen(staff_client, payload):
    response = staff_client.post("/api/v1/jobs/bulk", payload, format="json")
    assert response.status_code == 400, response.content
    assert not Job.objects.exists()


def test_the_list_offers_apply_to_all_and_the_confirmation_counts_every_page(staff_browser, staff_user):
    make(120, status=S.FAILED, actor_name="echo")
    make(3, status=S.FAILED, actor_name="demo.flaky")
    listing = staff_browser.get("/jobs/", {"actor": "echo", "size": "20"}).content.decode()
    assert 'id="bulk-filter-form"' in listing and 'name="actor" value="echo"' in listing
    confirm = staff_browser.get("/jobs/all/confirm", {"action": "retry", "actor": "echo"}).content.decode()
    assert "Retry all 120 matching jobs?" in confirm
    response = staff_browser.post("/jobs/all/apply", {"action": "retry", "actor": "echo"})
    bulk = Job.objects.get(actor_name="jobs.bulk")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{bulk.pk}/"
    assert bulk.kwargs == {"action": "retry", "filters": {"actor": "echo"}}
    assert AuditEntry.objects.get(action="jobs.bulk_retry").user == staff_user


def test_the_dashboard_refuses_a_destructive_action_without_a_filter(staff_browser):
    make(2, status=S.SUCCEEDED)
    response = staff_browser.post("/jobs/all/apply", {"action": "delete"}, follow=True)
    assert "at least one filter criterion" in response.content.decode()
    assert not Job.objects.filter(actor_name="jobs.bulk").exists() and Job.objects.count() == 2


def test_a_bulk_retry_leaves_a_job_whose_key_a_live_job_holds():
    JobFactory(status=S.QUEUED, idempotency_key="k1")
    held = JobFactory(status=S.FAILED, idempotency_key="k1")
    free = JobFactory(status=S.FAILED, idempotency_key="k2")
    plain = JobFactory(status=S.FAILED)
    assert jobs_bulk_apply(action="retry", filters={"actor": "echo"})["changed"] == 2
    statuses = dict(Job.objects.filter(pk__in=[held.pk, free.pk, plain.pk]).values_list("pk", "status"))
    assert statuses == {held.pk: S.FAILED, free.pk: S.PENDING, plain.pk: S.PENDING}
