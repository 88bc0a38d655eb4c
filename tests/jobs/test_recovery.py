from datetime import timedelta

import dramatiq
import pytest
from django.utils import timezone

from jobs import recovery
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from tests.factories import JobFactory

S = JobStatus


@pytest.mark.django_db
def test_relay_publishes_old_unpublished_jobs_only(settings):
    settings.JOBS = {**settings.JOBS, "RELAY_GRACE": 10}
    old = timezone.now() - timedelta(seconds=30)
    stuck = JobFactory(status=S.PENDING, status_changed_at=old)
    fresh = JobFactory(status=S.PENDING)  # its own on_commit publish may still be under way
    retry = JobFactory(status=S.RETRYING, status_changed_at=old, next_retry_at=timezone.now())
    assert recovery.relay_unpublished() == 2
    stuck.refresh_from_db()
    retry.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == S.QUEUED and stuck.enqueued_at is not None
    assert retry.status == S.RETRYING and retry.enqueued_at is not None
    assert fresh.status == S.PENDING


@pytest.mark.django_db
def test_relay_leaves_jobs_pending_when_the_broker_is_down(settings, monkeypatch):
    settings.JOBS = {**settings.JOBS, "RELAY_GRACE": 0}
    job = JobFactory(status=S.PENDING, status_changed_at=timezone.now() - timedelta(seconds=5))
    broker = dramatiq.get_broker()

    def refuse(*args, **kwargs):
        import redis

        raise redis.exceptions.ConnectionError("down")

    monkeypatch.setattr(broker, "enqueue", refuse)
    assert recovery.relay_unpublished() == 0
    job.refresh_from_db()
    assert job.status == S.PENDING


@pytest.mark.django_db
def test_reaper_retries_a_lost_job_and_records_the_lost_attempt(settings):
    settings.JOBS = {**settings.JOBS, "HEARTBEAT_TIMEOUT": 5}
    stale = timezone.now() - timedelta(seconds=60)
    job = JobFactory(status=S.RUNNING, attempts=1, max_attempts=4, heartbeat_at=stale, worker_id="dead:1")
    alive = JobFactory(status=S.RUNNING, attempts=1, heartbeat_at=timezone.now())
    assert recovery.reap_lost_jobs() == 1
    job.refresh_from_db()
    assert job.status == S.RETRYING and job.dispatch_token == 1 and job.error_type == "WorkerLost"
    lost = JobAttempt.objects.get(job=job)
    assert lost.outcome == AttemptOutcome.LOST and "dead:1" in lost.error_message
    assert Job.objects.get(pk=alive.pk).status == S.RUNNING


@pytest.mark.django_db
def test_reaper_fails_a_lost_job_out_of_attempts_and_honours_cancel(settings):
    settings.JOBS = {**settings.JOBS, "HEARTBEAT_TIMEOUT": 5}
    stale = timezone.now() - timedelta(seconds=60)
    poison = JobFactory(status=S.RUNNING, attempts=3, max_attempts=3, heartbeat_at=stale)
    cancelled = JobFactory(status=S.RUNNING, attempts=1, heartbeat_at=stale, cancel_requested_at=stale)
    assert recovery.reap_lost_jobs() == 2
    assert Job.objects.get(pk=poison.pk).status == S.FAILED
    assert Job.objects.get(pk=cancelled.pk).status == S.CANCELLED


@pytest.fixture
def empty_namespace():
    """Redis keys of this test alone, so that no other test's messages count as present."""
    broker = dramatiq.get_broker()
    previous = broker.namespace
    broker.namespace = f"{previous}-lost-{id(broker)}"
    yield broker.namespace
    for key in broker.client.scan_iter(match=f"{broker.namespace}*"):
        broker.client.delete(key)
    broker.namespace = previous


@pytest.mark.django_db
def test_jobs_whose_messages_redis_lost_are_published_again(empty_namespace, django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(minutes=5)
    lost = JobFactory(status=S.QUEUED, queue_name="documents", enqueued_at=old)
    fresh = JobFactory(status=S.QUEUED, queue_name="documents", enqueued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.republish_lost_messages(older_than=60) == 1
    lost.refresh_from_db()
    assert lost.status == S.QUEUED and lost.dispatch_token == 1 and lost.enqueued_at > old
    broker = dramatiq.get_broker()
    assert broker.client.hlen(f"{empty_namespace}:documents.msgs") == 1
    # Now Redis holds a message of the queue: nothing more is republished.
    assert recovery.republish_lost_messages(older_than=0) == 0
    assert Job.objects.get(pk=fresh.pk).dispatch_token == 0
