import importlib
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
def test_a_submit_that_lost_a_key_race_to_a_job_already_finished_gets_that_job(monkeypatch):
    """Found on the multi-host bed (scenario 5): two web hosts take one key at the same moment; the
    winner's job finishes before the loser reads it back after its failed insert: that was a 500."""
    submit_module = importlib.import_module("jobs.services.submit")  # the package re-exports submit()
    winner = JobFactory(actor_name="echo", status=S.RUNNING, idempotency_key="k-race")
    real_lookup = submit_module._live_job_with_key
    lookups = []

    def racing_lookup(key):
        lookups.append(key)
        if len(lookups) == 1:
            return None  # before the insert: the winner was not committed yet
        Job.objects.filter(pk=winner.pk).update(status=S.SUCCEEDED)  # and it finished before this read
        return real_lookup(key)

    monkeypatch.setattr(submit_module, "_live_job_with_key", racing_lookup)
    submitted = services.job_submit(actor_name="echo", idempotency_key="k-race")
    assert not submitted.created and submitted.job.pk == winner.pk
    assert Job.objects.filter(idempotency_key="k-race").count() == 1


@pytest.mark.django_db
def test_eta_in_the_future_waits_in_the_database_until_due(django_capture_on_commit_callbacks):
    eta = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(actor_name="echo", eta=eta).job
    job.refresh_from_db()
    assert job.status == S.SCHEDULED and job.eta == eta and job.available_at == eta
    assert job.enqueued_at is None  # no delayed message in Redis: the dispatcher publishes it when due
    assert services.publish_due() == 0
    Job.objects.filter(pk=job.pk).update(available_at=timezone.now() - timedelta(seconds=1))
    assert services.publish_due() == 1
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.enqueued_at is not None


@pytest.mark.django_db
def test_submit_many_inserts_and_publishes_in_bulk(django_capture_on_commit_callbacks):
    before = queue_length()
    with django_capture_on_commit_callbacks(execute=True):
        jobs = services.job_submit_many(actor_name="noop", calls=[([], {}) for _ in range(25)])
    assert len(jobs) == 25
    assert Job.objects.filter(status=S.QUEUED).count() == 25
    assert queue_length() == before + 25


def _running_ctx(job):
    from jobs import states

    if job.status != S.QUEUED:
        Job.objects.filter(pk=job.pk).update(status=S.QUEUED)
    claim = states.claim_many([(job.pk, job.dispatch_token)], worker_id="w:1").get(str(job.pk))
    assert claim is not None
    return context.new_context(
        job_id=str(job.pk),
        token=job.dispatch_token,
        message_id="m",
        claim=claim,
        spec=registry.get_spec(job.actor_name),
        worker_id="w:1",
    )


@pytest.mark.django_db
def test_a_retryable_failure_waits_for_its_backoff_with_a_new_token():
    job = JobFactory(actor_name="t.always_fail", max_attempts=4)
    ctx = _running_ctx(job)
    status = services.job_fail_attempt(ctx, ValueError("boom"), traceback_text="Traceback: boom")
    assert status == S.RETRYING
    job.refresh_from_db()
    assert job.dispatch_token == 1 and job.next_retry_at > timezone.now()
    assert job.enqueued_at is None  # published by the dispatcher when the backoff ends
    attempt = JobAttempt.objects.get(job=job)
    assert (attempt.number, attempt.outcome, attempt.error_type) == (1, AttemptOutcome.FAILED, "ValueError")
    assert attempt.traceback == "Traceback: boom"


@pytest.mark.django_db
def test_a_failed_attempt_starts_when_the_database_says_not_when_the_worker_host_says():
    """Found on the multi-host bed (scenario 6): a worker host whose clock ran 30 s ahead wrote
    failed attempts that started 30 s after they ended."""
    job = JobFactory(actor_name="t.always_fail", max_attempts=4)
    ctx = _running_ctx(job)
    ctx.started_at = timezone.now() + timedelta(seconds=30)  # the worker host's clock
    services.job_fail_attempt(ctx, ValueError("boom"))
    attempt = JobAttempt.objects.get(job=job)
    assert attempt.started_at == Job.objects.get(pk=job.pk).started_at  # written by the claim
    assert attempt.started_at <= attempt.finished_at


@pytest.mark.django_db
def test_the_last_attempt_and_permanent_errors_fail_the_job():
    last = JobFactory(actor_name="t.always_fail", max_attempts=1)
    assert services.job_fail_attempt(_running_ctx(last), ValueError("x")) == S.FAILED
    permanent = JobFactory(actor_name="t.permanent_fail", max_attempts=6)
    assert services.job_fail_attempt(_running_ctx(permanent), PermanentError("no")) == S.FAILED
    cancelled = JobFactory(actor_name="countdown")
    assert services.job_fail_attempt(_running_ctx(cancelled), JobCancelled()) == S.CANCELLED


@pytest.mark.django_db
def test_a_cancelled_running_job_that_then_raises_ends_cancelled_not_retrying():
    """Defect 4: it went to retrying with a message the claim refuses, live forever."""
    job = JobFactory(actor_name="t.always_fail", max_attempts=4, idempotency_key="cancel-then-raise")
    ctx = _running_ctx(job)
    services.job_cancel(job_id=job.pk)
    assert services.job_fail_attempt(ctx, ValueError("raised after the cancel")) == S.CANCELLED
    job.refresh_from_db()
    assert job.status == S.CANCELLED
    # Its idempotency key is free again: the job is no longer live.
    assert services.job_submit(actor_name="echo", idempotency_key="cancel-then-raise").created


@pytest.mark.django_db
def test_a_failure_after_the_job_was_taken_changes_nothing():
    job = JobFactory(actor_name="t.always_fail")
    ctx = _running_ctx(job)
    Job.objects.filter(pk=job.pk).update(dispatch_token=5)  # released and re-dispatched meanwhile
    assert services.job_fail_attempt(ctx, ValueError("late")) is None
    assert not JobAttempt.objects.filter(job=job).exists()


@pytest.mark.django_db
def test_a_nul_byte_in_an_error_message_is_recorded():
    """Defect 8: psycopg2 refused the NUL with ValueError and the failure went unrecorded."""
    job = JobFactory(actor_name="t.always_fail", max_attempts=1)
    assert (
        services.job_fail_attempt(_running_ctx(job), ValueError("bad\x00byte \ud800"), traceback_text="tb\x00")
        == S.FAILED
    )
    attempt = JobAttempt.objects.get(job=job)
    assert attempt.error_message.startswith("bad") and "\x00" not in attempt.error_message
    assert Job.objects.get(pk=job.pk).error_type == "ValueError"


@pytest.mark.django_db
def test_one_unstorable_result_never_sinks_its_batch():
    """Defect 7: a result holding \\u0000 made jsonb refuse the whole batch of successes."""
    jobs = [JobFactory(actor_name="echo") for _ in range(3)]
    ctxs = [_running_ctx(j) for j in jobs]
    results = [{"ok": 1}, {"text": "nul\x00inside", "bad": "\ud800"}, [1, 2]]
    items = [(c.job_id, c.token, services.storable_result(r)) for c, r in zip(ctxs, results, strict=True)]
    assert services.jobs_succeed(items) == {c.job_id for c in ctxs}
    stored = {str(j.pk): j.result for j in Job.objects.filter(pk__in=[j.pk for j in jobs])}
    assert stored[ctxs[0].job_id] == {"ok": 1} and stored[ctxs[2].job_id] == [1, 2]
    assert stored[ctxs[1].job_id]["text"].startswith("nul")
    assert set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == {S.SUCCEEDED}


@pytest.mark.django_db
def test_a_fenced_copy_records_its_late_effect_on_its_attempt():
    job = JobFactory(actor_name="echo", max_attempts=4)
    ctx = _running_ctx(job)
    services.jobs_release(worker_ids=["w:1"], reason=services.ReleaseReason.HOST_LOST)
    assert services.jobs_succeed([(ctx.job_id, ctx.token, {"late": True})]) == set()
    services.job_record_late_effect(job_id=ctx.job_id, attempt=ctx.attempt, outcome="succeeded")
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.dispatch_token == 1 and job.result is None  # republished by the release
    attempt = JobAttempt.objects.get(job=job, number=1)
    assert (attempt.outcome, attempt.late_outcome, attempt.charged) == (AttemptOutcome.LOST, "succeeded", False)


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
    assert job.status == S.QUEUED and job.dispatch_token == 1 and job.enqueued_at is not None
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
    old = timezone.now() - timedelta(days=100)  # past every state's default retention
    for status in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        job = JobFactory(status=status, finished_at=old)
        JobAttempt.objects.create(job=job, number=1, outcome="failed", finished_at=old)
    recent = JobFactory(status=S.SUCCEEDED, finished_at=timezone.now())
    waiting = JobFactory(status=S.QUEUED)
    assert services.jobs_prune(batch_size=2) == 3
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_results_are_capped_and_made_storable(settings):
    settings.JOBS = {**settings.JOBS, "MAX_RESULT_BYTES": 50}
    assert services.storable_result({"a": 1}) == {"a": 1}
    assert services.storable_result("x" * 100)["truncated"] is True
    assert "unstorable_result" in services.storable_result(object())
    deep = []
    for _ in range(500):
        deep = [deep]
    assert "unstorable_result" in services.storable_result(deep)


@pytest.mark.django_db
def test_a_retry_whose_idempotency_key_is_live_again_is_a_409():
    """Defect 15: job_retry answered 500 when its idempotency key was reused meanwhile."""
    dead = JobFactory(status=S.FAILED, idempotency_key="nightly")
    JobFactory(status=S.QUEUED, idempotency_key="nightly")
    with pytest.raises(InvalidTransition) as err:
        services.job_retry(job_id=dead.pk)
    assert "idempotency key" in err.value.message
    assert Job.objects.get(pk=dead.pk).status == S.FAILED


@pytest.mark.django_db
def test_a_cancel_racing_a_claim_asks_the_running_job_to_stop(monkeypatch):
    """Defect 15: a cancel that found the job queued, then running, answered 409."""
    from jobs import states

    job = JobFactory(status=S.QUEUED)
    real = states.transition

    def claimed_meanwhile(job_id, name, target, **kwargs):
        if name == "cancel":
            states.claim_many([(job.pk, 0)], worker_id="w:race")
        return real(job_id, name, target, **kwargs)

    monkeypatch.setattr(states, "transition", claimed_meanwhile)
    after = services.job_cancel(job_id=job.pk)
    assert after.status == S.RUNNING and after.cancel_requested_at is not None


def _retry_racing_the_delete(monkeypatch, job):
    """Run an operator's retry of ``job`` in another thread (its own connection) at the moment the
    delete has chosen its jobs and is removing their attempts. Returns the retry's outcome list."""
    import threading

    from django.db import connection
    from django.db.models.query import QuerySet

    outcome, real_delete = [], QuerySet.delete

    def retry():
        try:
            outcome.append(services.job_retry(job_id=job.pk).status)
        except Exception as exc:
            outcome.append(type(exc).__name__)
        finally:
            connection.close()

    def delete(self):
        if self.model is JobAttempt and not outcome:
            racer = threading.Thread(target=retry)
            racer.start()
            racer.join(1.0)  # a retry that waits for the delete's row lock stays behind
            outcome.append(racer)
        return real_delete(self)

    monkeypatch.setattr(QuerySet, "delete", delete)
    return outcome


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["prune", "purge"])
def test_a_job_retried_while_it_is_deleted_is_either_kept_or_not_retried(monkeypatch, action):
    """Defect 13: prune and purge selected ids, then deleted them without re-checking their status:
    a job retried in between was deleted although the retry had succeeded."""
    dead = JobFactory(status=S.FAILED, finished_at=timezone.now() - timedelta(days=40), attempts=1, max_attempts=1)
    outcome = _retry_racing_the_delete(monkeypatch, dead)
    if action == "prune":
        services.jobs_prune(older_than_days=30)
    else:
        services.jobs_purge_failed(Job.objects.all())
    racer = next(o for o in outcome if not isinstance(o, str))
    racer.join(30)
    retried = S.PENDING in outcome or S.QUEUED in outcome
    assert retried == Job.objects.filter(pk=dead.pk).exists(), outcome


@pytest.mark.django_db
def test_bulk_cancel_cancels_what_is_still_live():
    queued, running, done = JobFactory(status=S.QUEUED), JobFactory(status=S.RUNNING), JobFactory(status=S.SUCCEEDED)
    assert services.jobs_cancel_bulk([queued.pk, running.pk, done.pk, "not-a-job"]) == 2
    assert Job.objects.get(pk=queued.pk).status == S.CANCELLED
    assert Job.objects.get(pk=running.pk).cancel_requested_at is not None
    assert Job.objects.get(pk=done.pk).status == S.SUCCEEDED
