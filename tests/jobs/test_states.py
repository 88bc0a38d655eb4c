import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from jobs import broker, services, states
from jobs.models import Job, JobStatus
from tests.factories import JobFactory

S = JobStatus


def test_terminal_success_has_no_way_out():
    assert states.TRANSITIONS[S.SUCCEEDED] == frozenset()
    assert not states.can_transition(S.SUCCEEDED, S.PENDING)


def test_a_job_is_claimed_only_from_a_state_its_message_can_find_it_in():
    assert states.sources_of(S.RUNNING) == tuple(sorted((S.PENDING, S.QUEUED, S.RETRYING, S.SCHEDULED)))
    assert not states.can_transition(S.RUNNING, S.QUEUED)
    assert not states.can_transition(S.CANCELLED, S.RUNNING) and not states.can_transition(S.FAILED, S.RUNNING)


def test_every_transition_states_its_guard_and_reaches_only_declared_targets():
    for transition in states.MACHINE:
        assert transition.guard and transition.sources and transition.targets
    with pytest.raises(ValueError):
        states.transition("00000000-0000-0000-0000-000000000000", "claim", S.SUCCEEDED)


def test_after_an_unsuccessful_attempt_cancel_wins_then_permanent_then_budget():
    decide = states.after_unsuccessful_attempt
    assert decide(cancel_requested=True, permanent=False, charged_attempts=1, max_attempts=4) == S.CANCELLED
    assert decide(cancel_requested=False, permanent=True, charged_attempts=1, max_attempts=4) == S.FAILED
    assert decide(cancel_requested=False, permanent=False, charged_attempts=4, max_attempts=4) == S.FAILED
    assert decide(cancel_requested=False, permanent=False, charged_attempts=3, max_attempts=4) == S.RETRYING


@pytest.mark.django_db
def test_transition_matches_only_allowed_sources():
    job = JobFactory(status=S.SUCCEEDED)
    assert states.transition(job.pk, "rerun", S.PENDING) is False
    job.refresh_from_db()
    assert job.status == S.SUCCEEDED


@pytest.mark.django_db
def test_transition_moves_and_stamps_with_the_database_clock():
    job = JobFactory(status=S.QUEUED, status_changed_at=timezone.now() - timedelta(hours=1))
    assert states.transition(job.pk, "cancel", S.CANCELLED, finished_at=timezone.now()) is True
    job.refresh_from_db()
    assert job.status == S.CANCELLED and job.finished_at is not None
    assert abs((job.status_changed_at - timezone.now()).total_seconds()) < 5


@pytest.mark.django_db
def test_claim_counts_the_attempt_once():
    job = JobFactory(status=S.QUEUED, dispatch_token=0)
    first = states.claim_many([(job.pk, 0)], worker_id="w:1")
    assert first == {str(job.pk): states.Claim(attempts=1, max_attempts=4)}
    # A duplicate delivery of the same message finds the job running and is dropped.
    assert states.claim_many([(job.pk, 0)], worker_id="w:2") == {}
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker_id) == (S.RUNNING, 1, "w:1")
    assert job.started_at is not None


@pytest.mark.django_db
def test_claim_rejects_a_stale_token_a_cancel_request_and_a_finished_job():
    job = JobFactory(status=S.QUEUED, dispatch_token=3)
    assert states.claim_many([(job.pk, 2)], worker_id="w") == {}
    cancelled = JobFactory(status=S.QUEUED, cancel_requested_at=timezone.now())
    assert states.claim_many([(cancelled.pk, 0)], worker_id="w") == {}
    finished = JobFactory(status=S.CANCELLED, dispatch_token=1)
    assert states.claim_many([(finished.pk, 1)], worker_id="w") == {}
    assert str(job.pk) in states.claim_many([(job.pk, 3)], worker_id="w")


@pytest.mark.django_db
def test_two_messages_of_one_job_in_one_batch_claim_it_once_for_the_current_token():
    """Defect 2: the one claim row used to be handed to every request of the job in a batch."""
    from jobs.worker.runtime import ProcessRuntime

    job = JobFactory(status=S.QUEUED, dispatch_token=5)
    runtime = ProcessRuntime.__new__(ProcessRuntime)
    runtime.worker_id = "w:batch"
    key = str(job.pk)
    outcomes = runtime._claim_batch([(key, 4), (key, 5), (key, 5)])
    assert [o is not None for o in outcomes] == [False, True, False]
    job.refresh_from_db()
    assert (job.status, job.attempts) == (S.RUNNING, 1)


@pytest.mark.django_db
def test_succeed_needs_the_claim_token():
    job = JobFactory(status=S.QUEUED, dispatch_token=0)
    states.claim_many([(job.pk, 0)], worker_id="w")
    assert states.succeed_many([(job.pk, 1, None)]) == set()
    assert states.succeed_many([(job.pk, 0, {"ok": [1, 2]})]) == {str(job.pk)}
    job = Job.objects.get(pk=job.pk)
    assert job.status == S.SUCCEEDED and job.result == {"ok": [1, 2]} and job.progress == 100
    assert states.succeed_many([(job.pk, 0, None)]) == set()  # never twice


@pytest.mark.django_db
def test_claim_many_claims_only_claimable_jobs_with_their_tokens():
    fresh = JobFactory(status=S.QUEUED)
    stale = JobFactory(status=S.QUEUED, dispatch_token=2)
    running = JobFactory(status=S.RUNNING)
    claims = states.claim_many([(fresh.pk, 0), (stale.pk, 1), (running.pk, 0)], worker_id="w:9")
    assert claims == {str(fresh.pk): states.Claim(attempts=1, max_attempts=4, retry_cycle_start=0)}
    fresh.refresh_from_db()
    assert (fresh.status, fresh.worker_id) == (S.RUNNING, "w:9")
    assert Job.objects.get(pk=stale.pk).status == S.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_message_fetched_before_its_publish_commits_is_claimed_once_it_commits(monkeypatch):
    """Found on the multi-host bed (bench/multihost_capacity.py): messages go to Redis inside the
    publishing transaction; a worker that fetched one before the commit saw the row still pending,
    its claim matched nothing and the message was dropped, so the job waited for the lost-message
    check (JOBS_LOST_MESSAGE_AGE, 60 s). The claim now waits for the publisher's row lock."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serialises writers: the claim waits anyway)")
    job = JobFactory(actor_name="echo", status=S.PENDING)
    claims, racers = {}, []

    def claim_on_another_connection():
        try:
            claims.update(states.claim_many([(str(job.pk), 0)], worker_id="host:1:abc/racer"))
        finally:
            connections.close_all()

    def publish_while_a_worker_races(outgoing):
        racer = threading.Thread(target=claim_on_another_connection)
        racer.start()
        racers.append(racer)
        time.sleep(0.5)  # the worker's claim arrives while the publishing transaction is open

    monkeypatch.setattr(broker, "publish", publish_while_a_worker_races)
    assert services.jobs_publish([job.pk]) == 1
    racers[0].join(10)
    assert str(job.pk) in claims, "the early message's claim matched nothing: it would be dropped"
    job.refresh_from_db()
    assert (job.status, job.worker_id, job.attempts) == (S.RUNNING, "host:1:abc/racer", 1)
