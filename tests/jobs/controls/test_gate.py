import time

import dramatiq
import pytest

from jobs import broker, services
from jobs.controls import gate
from jobs.controls import services as controls
from jobs.models import Job, JobStatus
from tests.factories import JobFactory

S = JobStatus
pytestmark = pytest.mark.django_db


def admit(job, *, token=None):
    return gate.admit(
        job_id=str(job.pk),
        token=job.dispatch_token if token is None else token,
        queue_name=job.queue_name,
        actor_name=job.actor_name,
        worker_id="w-test",
    )


def test_with_no_control_admission_is_one_cached_lookup(django_assert_num_queries):
    job = JobFactory()
    gate.cache.get()  # the process's snapshot, loaded once per refresh interval
    with django_assert_num_queries(0):
        for _ in range(100):
            assert admit(job) is gate.ADMIT
        assert gate.publish_plan() is None


def test_a_paused_queue_holds_its_job_back_uncharged():
    job = JobFactory(dispatch_token=3, enqueued_at="2026-01-01T00:00:00Z")
    controls.queue_pause(queue_name="default")
    admission = admit(job)
    assert admission.decided and admission.claim is None and "paused" in admission.held
    job.refresh_from_db()
    assert (job.status, job.dispatch_token, job.enqueued_at, job.attempts) == (S.PENDING, 4, None, 0)
    assert job.progress_message == "held back: queue default is paused"


def test_a_hold_for_a_stale_message_changes_nothing():
    job = JobFactory(dispatch_token=5)
    assert controls.job_hold(job_id=job.pk, token=4, delay=0) is False
    job.refresh_from_db()
    assert (job.status, job.dispatch_token) == (S.QUEUED, 5)


def test_another_queue_is_not_held_by_a_pause():
    job = JobFactory(queue_name="scans")
    controls.queue_pause(queue_name="default")
    assert admit(job) is gate.ADMIT


@pytest.mark.parametrize("kind", ["queue", "actor"])
def test_a_concurrency_limit_claims_below_it_and_holds_at_it(kind):
    if kind == "queue":
        controls.queue_set_limits(queue_name="default", max_concurrency=2)
    else:
        controls.actor_set_limits(actor_name="echo", max_concurrency=2)
    JobFactory(status=S.RUNNING, worker_id="w-other")
    first = JobFactory()
    admission = admit(first)
    assert admission.decided and admission.claim is not None and admission.claim.attempts == 1
    first.refresh_from_db()
    assert first.status == S.RUNNING and first.worker_id == "w-test"
    second = JobFactory()
    admission = admit(second)
    assert admission.decided and admission.claim is None and admission.held
    second.refresh_from_db()
    assert second.status == S.PENDING and second.attempts == 0 and second.dispatch_token == 1


def test_an_actor_limit_leaves_other_actors_alone():
    controls.actor_set_limits(actor_name="echo", max_concurrency=1)
    JobFactory(status=S.RUNNING, worker_id="w-other")
    assert admit(JobFactory(actor_name="t.record")) is gate.ADMIT


def test_a_rate_limit_admits_its_budget_then_holds_until_the_window_moves():
    controls.queue_set_limits(queue_name="scans", rate_limit=3, rate_period=30)
    jobs = [JobFactory(queue_name="scans") for _ in range(4)]
    assert [admit(job) for job in jobs[:3]] == [gate.ADMIT] * 3
    admission = admit(jobs[3])
    assert admission.held == "rate limit"
    waited = Job.objects.get(pk=jobs[3].pk)
    assert waited.status == S.PENDING
    assert (waited.available_at - waited.status_changed_at).total_seconds() > 25  # until the window moves


def test_a_rate_limit_is_shared_by_every_process_through_redis():
    controls.actor_set_limits(actor_name="echo", rate_limit=2, rate_period=30)
    limits = [("actor", "echo", gate.Limits(rate_limit=2, rate_period=30))]
    assert gate._take_rate("a", 1, limits) == 0
    # Another process's start, written straight into the shared log.
    dramatiq.get_broker().client.zadd(gate.rate_key("actor", "echo"), {"other-host": int(time.time() * 1000)})
    assert gate._take_rate("b", 1, limits) > 25


def test_the_publisher_leaves_a_paused_queue_in_the_database_until_resumed():
    controls.queue_pause(queue_name="reports")
    job = JobFactory(status=S.PENDING, queue_name="reports", enqueued_at=None)
    other = JobFactory(status=S.PENDING, queue_name="scans", enqueued_at=None)
    assert services.jobs_publish([job.pk, other.pk]) == 1
    assert services.publish_due() == 0
    assert Job.objects.get(pk=job.pk).status == S.PENDING
    controls.queue_resume(queue_name="reports")
    assert services.publish_due() == 1
    assert Job.objects.get(pk=job.pk).status == S.QUEUED


def test_a_ready_window_publishes_the_highest_priorities_first_and_keeps_the_rest():
    depth_before = broker.queue_depths(["documents"])["documents"]
    controls.queue_set_limits(queue_name="documents", ready_window=depth_before + 2)
    low = [JobFactory(status=S.PENDING, queue_name="documents", enqueued_at=None, priority=0) for _ in range(3)]
    high = [JobFactory(status=S.PENDING, queue_name="documents", enqueued_at=None, priority=9) for _ in range(2)]
    assert services.jobs_publish([j.pk for j in low + high]) == 2
    statuses = dict(Job.objects.values_list("id", "status"))
    assert {statuses[j.pk] for j in high} == {S.QUEUED}
    assert {statuses[j.pk] for j in low} == {S.PENDING}
    assert services.publish_due() == 0  # the window is full until a worker takes messages


def test_two_publishers_that_saw_the_same_free_slot_fill_it_once(monkeypatch):
    depth_before = broker.queue_depths(["documents"])["documents"]
    controls.queue_set_limits(queue_name="documents", ready_window=depth_before + 1)
    first, second = (JobFactory(status=S.PENDING, queue_name="documents", enqueued_at=None) for _ in range(2))
    seen_by_dispatcher = gate.publish_plan()  # read before the submitter's hook fills the slot
    assert seen_by_dispatcher.rooms == {"documents": 1}
    assert services.jobs_publish([first.pk]) == 1  # the submitter's on-commit hook
    monkeypatch.setattr(gate, "publish_plan", lambda: seen_by_dispatcher)
    assert services.publish_due() == 0  # the dispatcher reads the room again under the queue's lock
    assert Job.objects.get(pk=second.pk).status == S.PENDING
    assert broker.queue_depths(["documents"])["documents"] == depth_before + 1


def test_a_concurrency_limit_is_the_window_when_none_is_set():
    controls.queue_set_limits(queue_name="default", max_concurrency=3)
    assert gate.cache.get().windows == {"default": 3}
    controls.queue_set_limits(queue_name="default", ready_window=7)
    assert gate.cache.get().windows == {"default": 7}
    controls.queue_pause(queue_name="default")
    assert gate.cache.get().windows == {} and gate.cache.get().paused == {"default"}
