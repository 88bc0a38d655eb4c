"""The worker process's runtime without a Dramatiq worker: claims, contexts, interruptions, success
before ack. Real database (transaction=True: the runtime's threads have connections of their own)."""

import threading
import time

import dramatiq
import pytest
from django.db import InterfaceError, connection
from dramatiq.middleware import SkipMessage

from jobs import context, states
from jobs.db import with_db_retries
from jobs.errors import JobCancelled
from jobs.models import Job, JobStatus
from jobs.worker.maintenance import ProcessMaintenance
from jobs.worker.middleware import JobTracking
from jobs.worker.runtime import ProcessRuntime, SuspectSlot
from tests.conftest import clear_redis_namespace
from tests.factories import JobFactory
from tests.integration.conftest import wait_for

S = JobStatus
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tracking():
    middleware = JobTracking()
    middleware.runtime = ProcessRuntime(queues=["default"], threads=4).start()
    yield middleware
    middleware.runtime.stop()
    connection.close()


def message(job, token=None, actor="echo", **options):
    return dramatiq.Message(
        queue_name="default",
        actor_name=actor,
        args=(),
        kwargs={},
        options={"job_id": str(job.pk), "job_token": job.dispatch_token if token is None else token, **options},
    )


def in_thread(fn):
    """Run ``fn`` in a worker-like thread; returns (thread, box with its return value)."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: B036 - the test inspects it
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def test_a_stale_duplicate_dropped_in_the_same_process_leaves_the_running_copy_alone(tracking):
    """Defect 1: dropping a stale message deactivated the running copy's context by job id: it then
    stopped heartbeating and could not be cancelled, and its success was never written."""
    job = JobFactory(status=S.QUEUED, dispatch_token=1)
    current, stale = message(job, 1), message(job, 0)
    started, release = threading.Event(), threading.Event()

    def run_current():
        tracking.before_process_message(None, current)
        started.set()
        release.wait(10)
        tracking.after_process_message(None, current, result={"done": True})

    thread, box = in_thread(run_current)
    assert started.wait(10)
    with pytest.raises(SkipMessage):
        tracking.before_process_message(None, stale)
    tracking.after_skip_message(None, stale)
    running = context.running_jobs()
    assert [c.job_id for c in running] == [str(job.pk)] and running[0].active
    release.set()
    thread.join(10)
    assert "error" not in box
    job = wait_for(lambda: Job.objects.filter(pk=job.pk, status=S.SUCCEEDED).first(), timeout=10, message="success")
    assert job.result == {"done": True}


def test_success_is_committed_before_the_message_is_acknowledged(tracking, monkeypatch):
    """Defect 7: the success was queued for a batched write after the message was acked: a
    database stall longer than the liveness timeout re-ran every job that finished meanwhile."""
    from jobs import broker, services

    current = dramatiq.get_broker()
    current.namespace = f"{current.namespace}-ack-{id(tracking)}"
    try:
        job = JobFactory(status=S.PENDING)
        services.jobs_publish([job.pk])
        consumer = current.consume("default", prefetch=1, timeout=100)
        delivered = next(m for m in iter(consumer.__next__, "never") if m is not None)
        message_id = delivered.options["redis_message_id"]
        stored = f"{broker.queue_key('default')}.msgs"
        real = states.succeed_many
        monkeypatch.setattr(states, "succeed_many", lambda items: (time.sleep(1.0), real(items))[1])
        tracking.before_process_message(current, delivered)
        tracking.after_process_message(current, delivered, result=7)
        consumer.ack(delivered)  # what Dramatiq does at once: it must not remove the message
        assert current.client.hexists(stored, message_id)
        assert Job.objects.get(pk=job.pk).status == S.RUNNING
        wait_for(lambda: not current.client.hexists(stored, message_id), timeout=10, message="the ack after commit")
        assert Job.objects.get(pk=job.pk).status == S.SUCCEEDED  # committed before the ack
        consumer.close()
    finally:
        clear_redis_namespace(current.namespace)
        current.namespace = current.namespace.rsplit("-ack-", 1)[0]


def test_a_claim_that_fails_never_lets_the_actor_run_and_the_claimer_survives(tracking, monkeypatch):
    """Defect 10: Dramatiq swallows errors in before_process_message and runs the actor anyway; a
    claimer thread that died on a non-database error hung every worker thread."""
    job = JobFactory(status=S.QUEUED)
    real = states.claim_many
    monkeypatch.setattr(states, "claim_many", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bug")))
    with pytest.raises(SkipMessage):
        tracking.before_process_message(None, message(job))
    assert Job.objects.get(pk=job.pk).status == S.QUEUED
    monkeypatch.setattr(states, "claim_many", real)
    retried = message(job)
    tracking.before_process_message(None, retried)  # the claimer thread still answers
    assert Job.objects.get(pk=job.pk).status == S.RUNNING
    tracking.after_process_message(None, retried, result=None)
    wait_for(lambda: Job.objects.get(pk=job.pk).status == S.SUCCEEDED, timeout=10, message="success")


def test_an_interruption_for_a_finished_job_never_reaches_the_next_job_of_its_thread():
    """Defect 9: the maintenance thread raised JobCancelled into a thread id from a snapshot; the
    thread could by then run another job."""
    from jobs import registry

    spec = registry.get_spec("countdown")  # abortable
    claim = states.Claim(attempts=1, max_attempts=3)
    snapshot = {}
    second_started, interrupted = threading.Event(), threading.Event()

    def worker_thread():
        first = context.new_context(job_id="a", token=0, message_id="m1", claim=claim, spec=spec, worker_id="w")
        context.activate(first)
        snapshot["first"] = first  # what the maintenance thread saw
        context.deactivate(first)
        second = context.new_context(job_id="b", token=0, message_id="m2", claim=claim, spec=spec, worker_id="w")
        context.activate(second)
        second_started.set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # Python bytecode: an async exception would land here
            sum(range(100))
        context.deactivate(second)
        return "second job finished"

    thread, box = in_thread(worker_thread)
    assert second_started.wait(5)
    ProcessMaintenance._cancel(snapshot["first"])
    thread.join(5)
    assert box.get("value") == "second job finished", box
    assert not interrupted.is_set()


def test_with_db_retries_rides_out_interface_errors():
    """Defect 8: InterfaceError (a closed connection) was not retried."""
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise InterfaceError("connection already closed")
        return "ok"

    assert with_db_retries(flaky, delays=(0.01, 0.01, 0.01)) == "ok" and len(calls) == 3


def test_one_crash_suspect_at_a_time_runs_in_a_process_beside_other_jobs():
    slot = SuspectSlot()
    assert slot.acquire(True)
    assert slot.acquire(False), "ordinary jobs never wait"
    assert not slot.acquire(True), "a second suspect does not start here (and does not wait)"
    slot.release(True)
    assert slot.acquire(True)


def test_a_suspect_that_finds_the_slot_taken_waits_in_the_database_not_in_a_thread(tracking):
    """A thread blocked on the slot hoarded its message: a process that prefetched several suspects
    ran them one after another while the other processes had nothing to run (SIGKILL storm: kill ->
    next start up to 26 s with free threads). Now it goes back to the database, uncharged, and is
    published again at the head of its queue."""
    first = JobFactory(status=S.QUEUED, dispatch_token=1, crash_suspect=True)
    second = JobFactory(status=S.QUEUED, dispatch_token=4, crash_suspect=True, attempts=2)
    started, release = threading.Event(), threading.Event()

    def run_first():
        msg = message(first, crash_suspect=True)
        tracking.before_process_message(None, msg)
        started.set()
        release.wait(10)
        tracking.after_process_message(None, msg, result=None)

    thread, _ = in_thread(run_first)
    assert started.wait(10)
    began = time.monotonic()
    with pytest.raises(SkipMessage):
        tracking.before_process_message(None, message(second, crash_suspect=True))
    assert time.monotonic() - began < 2, "the thread did not wait for the slot"
    second.refresh_from_db()
    assert (second.status, second.dispatch_token, second.attempts) == (S.PENDING, 5, 2)
    assert second.progress_message.startswith("held back: crash suspect")
    release.set()
    thread.join(10)
    wait_for(lambda: Job.objects.get(pk=first.pk).status == S.SUCCEEDED, timeout=10)


def test_a_suspect_that_returned_keeps_the_slot_until_its_success_is_committed(tracking, monkeypatch):
    """Found in CI (fault suite f): the slot was freed when the actor returned, while its row stayed
    ``running`` until the finisher's commit; a second suspect started beside it, the process died,
    blame found two suspects and charged nobody, and the poison job ran 5 times for its 3 attempts."""
    from jobs import services

    first = JobFactory(status=S.QUEUED, dispatch_token=1, crash_suspect=True)
    second = JobFactory(status=S.QUEUED, dispatch_token=2, crash_suspect=True)
    commit_may_go = threading.Event()
    real_succeed = services.jobs_succeed

    def slow_commit(rows):
        commit_may_go.wait(10)
        return real_succeed(rows)

    monkeypatch.setattr(services, "jobs_succeed", slow_commit)
    msg = message(first, crash_suspect=True)
    tracking.before_process_message(None, msg)
    tracking.after_process_message(None, msg, result="done")  # returned; its success waits for the commit
    assert Job.objects.get(pk=first.pk).status == S.RUNNING
    with pytest.raises(SkipMessage):
        tracking.before_process_message(None, message(second, crash_suspect=True))
    second.refresh_from_db()
    assert (second.status, second.dispatch_token) == (S.PENDING, 3), "held back while the first row is running"
    commit_may_go.set()
    wait_for(lambda: Job.objects.get(pk=first.pk).status == S.SUCCEEDED, timeout=10)
    second.status, second.dispatch_token = S.QUEUED, 3
    second.save(update_fields=["status", "dispatch_token"])
    retry = message(second, crash_suspect=True)
    tracking.before_process_message(None, retry)
    assert Job.objects.get(pk=second.pk).status == S.RUNNING, "the slot is free once the success committed"
    tracking.after_process_message(None, retry, result=None)


def test_a_held_back_suspect_is_published_again_at_the_head_of_its_queue(db):
    import uuid

    from jobs import broker
    from jobs.services import publish_due

    queue_name = f"suspects-{uuid.uuid4().hex[:6]}"
    JobFactory(status=S.PENDING, queue_name=queue_name, actor_name="echo")
    suspect = JobFactory(status=S.PENDING, queue_name=queue_name, actor_name="echo", crash_suspect=True)
    assert publish_due() >= 2
    head = broker.broker().client.lindex(broker.queue_key(queue_name), 0).decode()
    assert head.startswith(f"{suspect.pk}."), "the suspect went to the head, before the older job"


def test_a_cancel_reaches_an_abortable_running_job(tracking):
    job = JobFactory(status=S.QUEUED, actor_name="countdown")
    msg = message(job, actor="countdown")
    seen = {}

    def run():
        tracking.before_process_message(None, msg)
        try:
            for _ in range(100):
                time.sleep(0.05)
        except JobCancelled as exc:
            seen["cancelled"] = True
            tracking.after_process_message(None, msg, exception=exc)
            return
        tracking.after_process_message(None, msg, result=None)

    thread, _ = in_thread(run)
    for _ in range(50):
        if Job.objects.get(pk=job.pk).status == S.RUNNING:
            break
        time.sleep(0.05)
    from jobs import services

    services.job_cancel(job_id=job.pk)
    thread.join(10)
    assert seen.get("cancelled") and Job.objects.get(pk=job.pk).status == S.CANCELLED
