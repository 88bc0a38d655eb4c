from datetime import timedelta

import dramatiq
import pytest
from django.db import transaction
from django.utils import timezone

from jobs import context, registry, services
from jobs.errors import InvalidTransition, JobCancelled, PayloadTooLarge, PermanentError, UnknownActor, ValidationFailed
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from tests.factories import JobFactory

S = JobStatus


def queue_length(queue="default") -> int:
    broker = dramatiq.get_broker()
    return broker.client.llen(f"{broker.namespace}:{queue}")


@pytest.mark.django_db
def test_submit_writes_the_row_and_publishes_after_commit(django_capture_on_commit_callbacks):
    before = queue_length()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = services.submit("echo", 1, "two", flag=True)
        assert Job.objects.get(pk=job.pk).status == S.PENDING
        assert queue_length() == before  # nothing on the broker before commit
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.enqueued_at is not None
    assert (job.args, job.kwargs) == ([1, "two"], {"flag": True})
    assert queue_length() == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_submit_sends_nothing():
    before = queue_length()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.submit("echo", 1)
            raise RuntimeError("rollback")
    assert Job.objects.count() == 0
    assert queue_length() == before


@pytest.mark.django_db
def test_unknown_actor_lists_the_valid_ones_and_writes_nothing():
    with pytest.raises(UnknownActor) as err:
        services.submit("no.such.actor")
    assert "echo" in err.value.details["valid_actors"]
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_non_json_and_oversized_arguments_are_refused(settings):
    with pytest.raises(ValidationFailed):
        services.submit("echo", object())
    settings.JOBS = {**settings.JOBS, "MAX_ARGS_BYTES": 100}
    with pytest.raises(PayloadTooLarge):
        services.submit("echo", "x" * 200)
    with pytest.raises(ValidationFailed):
        services.job_submit(actor_name="echo", queue="nope")
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_idempotency_key_returns_the_live_job():
    first = services.job_submit(actor_name="echo", idempotency_key="k-1")
    second = services.job_submit(actor_name="echo", idempotency_key="k-1")
    assert first.created and not second.created
    assert second.job.pk == first.job.pk
    # Once the job is finished the key is free again.
    Job.objects.filter(pk=first.job.pk).update(status=S.SUCCEEDED)
    third = services.job_submit(actor_name="echo", idempotency_key="k-1")
    assert third.created and third.job.pk != first.job.pk


@pytest.mark.django_db
def test_eta_in_the_future_makes_a_scheduled_job(django_capture_on_commit_callbacks):
    eta = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(actor_name="echo", eta=eta).job
    job.refresh_from_db()
    assert job.status == S.SCHEDULED and job.eta == eta and job.enqueued_at is not None


@pytest.mark.django_db
def test_submit_many_inserts_and_publishes_in_bulk(django_capture_on_commit_callbacks):
    before = queue_length()
    with django_capture_on_commit_callbacks(execute=True):
        jobs = services.job_submit_many(actor_name="noop", calls=[([], {}) for _ in range(25)])
    assert len(jobs) == 25
    assert Job.objects.filter(status=S.QUEUED).count() == 25
    assert queue_length() == before + 25


def _running_ctx(job, attempt=1):
    from jobs import states

    claim = states.claim(job.pk, token=job.dispatch_token, worker_id="w:1", message_id="m")
    assert claim is not None
    return context.new_context(
        job_id=str(job.pk),
        token=job.dispatch_token,
        claim=claim,
        spec=registry.get_spec(job.actor_name),
        worker_id="w:1",
    )


@pytest.mark.django_db
def test_a_retryable_failure_schedules_a_retry_with_a_new_token(django_capture_on_commit_callbacks):
    job = JobFactory(actor_name="t.always_fail", max_attempts=4)
    ctx = _running_ctx(job)
    with django_capture_on_commit_callbacks(execute=True):
        status = services.job_fail_attempt(ctx, ValueError("boom"), traceback_text="Traceback: boom")
    assert status == S.RETRYING
    job.refresh_from_db()
    assert job.dispatch_token == 1 and job.next_retry_at > timezone.now() - timedelta(seconds=1)
    assert job.enqueued_at is not None  # the delayed message was published
    attempt = JobAttempt.objects.get(job=job)
    assert (attempt.number, attempt.outcome, attempt.error_type) == (1, AttemptOutcome.FAILED, "ValueError")
    assert attempt.traceback == "Traceback: boom"


@pytest.mark.django_db
def test_the_last_attempt_and_permanent_errors_fail_the_job():
    last = JobFactory(actor_name="t.always_fail", max_attempts=1)
    assert services.job_fail_attempt(_running_ctx(last), ValueError("x")) == S.FAILED
    permanent = JobFactory(actor_name="t.permanent_fail", max_attempts=6)
    assert services.job_fail_attempt(_running_ctx(permanent), PermanentError("no")) == S.FAILED
    cancelled = JobFactory(actor_name="countdown")
    assert services.job_fail_attempt(_running_ctx(cancelled), JobCancelled()) == S.CANCELLED


@pytest.mark.django_db
def test_a_failure_after_the_reaper_took_the_job_changes_nothing():
    job = JobFactory(actor_name="t.always_fail")
    ctx = _running_ctx(job)
    Job.objects.filter(pk=job.pk).update(dispatch_token=5)  # the reaper re-dispatched it
    assert services.job_fail_attempt(ctx, ValueError("late")) is None
    assert not JobAttempt.objects.filter(job=job).exists()


@pytest.mark.django_db
def test_cancel_waiting_running_and_finished_jobs():
    queued = JobFactory(status=S.QUEUED)
    assert services.job_cancel(job_id=queued.pk).status == S.CANCELLED
    running = JobFactory(status=S.RUNNING)
    after = services.job_cancel(job_id=running.pk)
    assert after.status == S.RUNNING and after.cancel_requested_at is not None
    done = JobFactory(status=S.SUCCEEDED)
    with pytest.raises(InvalidTransition):
        services.job_cancel(job_id=done.pk)


@pytest.mark.django_db
def test_retry_only_failed_or_cancelled_jobs_with_a_fresh_budget(django_capture_on_commit_callbacks):
    for status in (S.RUNNING, S.SUCCEEDED, S.QUEUED):
        with pytest.raises(InvalidTransition):
            services.job_retry(job_id=JobFactory(status=status).pk)
    failed = JobFactory(actor_name="t.always_fail", status=S.FAILED, attempts=4, max_attempts=4)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_retry(job_id=failed.pk)
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.dispatch_token == 1
    assert job.max_attempts == 4 + 3 + 1  # t.always_fail retries 3 times
    assert job.retry_cycle_start == 4  # backoff starts again from the policy's first delay


@pytest.mark.django_db
def test_bulk_retry_and_purge_touch_only_dead_jobs():
    dead = [JobFactory(status=S.FAILED) for _ in range(3)]
    JobFactory(status=S.SUCCEEDED)
    assert services.jobs_retry_bulk(Job.objects.all()) == 3
    assert Job.objects.filter(pk__in=[j.pk for j in dead], status=S.PENDING).count() == 3
    Job.objects.filter(status=S.PENDING).update(status=S.FAILED)
    assert services.jobs_purge_failed(Job.objects.all()) == 3
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_prune_deletes_old_terminal_jobs_only():
    old = timezone.now() - timedelta(days=40)
    for status in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        job = JobFactory(status=status, finished_at=old)
        JobAttempt.objects.create(job=job, number=1, outcome="failed", finished_at=old)
    recent = JobFactory(status=S.SUCCEEDED, finished_at=timezone.now())
    waiting = JobFactory(status=S.QUEUED)
    assert services.jobs_prune(batch_size=2) == 3
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_results_are_capped(settings):
    settings.JOBS = {**settings.JOBS, "MAX_RESULT_BYTES": 50}
    assert services.cap_result({"a": 1}) == {"a": 1}
    assert services.cap_result("x" * 100)["truncated"] is True
    assert "unserialisable_result" in services.cap_result(object())


@pytest.mark.django_db
def test_bulk_cancel_cancels_what_is_still_live():
    queued, running, done = JobFactory(status=S.QUEUED), JobFactory(status=S.RUNNING), JobFactory(status=S.SUCCEEDED)
    assert services.jobs_cancel_bulk([queued.pk, running.pk, done.pk, "not-a-job"]) == 2
    assert Job.objects.get(pk=queued.pk).status == S.CANCELLED
    assert Job.objects.get(pk=running.pk).cancel_requested_at is not None
    assert Job.objects.get(pk=done.pk).status == S.SUCCEEDED
