import pytest
from django.utils import timezone

from jobs import states
from jobs.models import Job, JobStatus
from tests.factories import JobFactory

S = JobStatus


def test_terminal_success_has_no_way_out():
    assert states.TRANSITIONS[S.SUCCEEDED] == frozenset()
    assert not states.can_transition(S.SUCCEEDED, S.PENDING)


def test_running_cannot_go_back_to_queued():
    assert not states.can_transition(S.RUNNING, S.QUEUED)
    assert states.sources_of(S.RUNNING) == states.CLAIMABLE


def test_cancelled_is_not_claimable():
    assert S.CANCELLED not in states.CLAIMABLE


@pytest.mark.django_db
def test_transition_matches_only_allowed_sources():
    job = JobFactory(status=S.SUCCEEDED)
    assert states.transition(job.pk, S.PENDING) is False
    job.refresh_from_db()
    assert job.status == S.SUCCEEDED


@pytest.mark.django_db
def test_transition_moves_and_stamps():
    job = JobFactory(status=S.QUEUED)
    assert states.transition(job.pk, S.CANCELLED, finished_at=timezone.now()) is True
    job.refresh_from_db()
    assert job.status == S.CANCELLED and job.finished_at is not None


@pytest.mark.django_db
def test_claim_counts_the_attempt_once():
    job = JobFactory(status=S.QUEUED, dispatch_token=0)
    first = states.claim(job.pk, token=0, worker_id="w:1", message_id="m1")
    assert first == states.Claim(attempts=1, max_attempts=4)
    # A duplicate delivery of the same message finds the job running and is dropped.
    assert states.claim(job.pk, token=0, worker_id="w:2", message_id="m1") is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker_id) == (S.RUNNING, 1, "w:1")


@pytest.mark.django_db
def test_claim_rejects_a_stale_token_and_a_cancel_request():
    job = JobFactory(status=S.RETRYING, dispatch_token=3)
    assert states.claim(job.pk, token=2, worker_id="w", message_id="m") is None
    cancelled = JobFactory(status=S.QUEUED, cancel_requested_at=timezone.now())
    assert states.claim(cancelled.pk, token=0, worker_id="w", message_id="m") is None
    assert states.claim(job.pk, token=3, worker_id="w", message_id="m") is not None


@pytest.mark.django_db
def test_succeed_needs_the_claim_token():
    job = JobFactory(status=S.QUEUED, dispatch_token=0)
    states.claim(job.pk, token=0, worker_id="w", message_id="m")
    assert states.succeed(job.pk, token=1, result=None) is False
    assert states.succeed(job.pk, token=0, result={"ok": [1, 2]}) is True
    job = Job.objects.get(pk=job.pk)
    assert job.status == S.SUCCEEDED and job.result == {"ok": [1, 2]} and job.progress == 100
    assert states.succeed(job.pk, token=0, result=None) is False  # never twice


@pytest.mark.django_db
def test_claim_many_claims_only_claimable_jobs_with_their_tokens():
    fresh = JobFactory(status=S.QUEUED)
    stale = JobFactory(status=S.RETRYING, dispatch_token=2)
    running = JobFactory(status=S.RUNNING)
    claims = states.claim_many([(fresh.pk, 0, "m1"), (stale.pk, 1, "m2"), (running.pk, 0, "m3")], worker_id="w:9")
    assert claims == {str(fresh.pk): states.Claim(attempts=1, max_attempts=4, retry_cycle_start=0)}
    fresh.refresh_from_db()
    assert (fresh.status, fresh.worker_id, fresh.message_id) == (S.RUNNING, "w:9", "m1")
    assert Job.objects.get(pk=stale.pk).status == S.RETRYING
