"""Acceptance of the job engine: real worker processes, real Redis, the real test database."""

import socket
import subprocess
import time

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from jobs.management.commands.ensure_redis import redis_binary
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from tests.integration.actors import executions_key
from tests.integration.conftest import wait_for, wait_status

S = JobStatus
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def executions(job_id) -> int:
    value = dramatiq.get_broker().client.hget(executions_key(), str(job_id))
    return int(value or 0)


def submit(client, actor, *args, **kwargs):
    response = client.post("/api/v1/jobs", {"actor": actor, "args": list(args), "kwargs": kwargs}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_500_jobs_through_the_api_all_succeed_exactly_once(staff_client, start_worker):
    start_worker(processes=1, threads=8)
    ids = [submit(staff_client, "t.record", n) for n in range(500)]
    wait_for(
        lambda: Job.objects.filter(status=S.SUCCEEDED).count() == 500,
        timeout=120,
        interval=0.5,
        message="500 jobs to succeed",
    )
    counts = dramatiq.get_broker().client.hgetall(executions_key())
    assert {int(counts[job_id.encode()]) for job_id in ids} == {1}
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}
    assert sorted(Job.objects.values_list("result", flat=True)) == list(range(500))


def test_a_failing_actor_runs_max_retries_plus_one_times_with_growing_delays(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.always_fail")
    job = wait_status(job_id, S.FAILED, timeout=60)
    assert job.attempts == 4 and executions(job_id) == 4
    attempts = list(JobAttempt.objects.filter(job_id=job_id).order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert all(f"deliberate failure {a.number}" in a.traceback for a in attempts)
    assert all("Traceback (most recent call last)" in a.traceback for a in attempts)
    gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2], gaps  # 0.5 s, 1 s, 2 s without jitter
    # A dead job retried from the API runs again (with a fresh retry budget).
    assert staff_client.post(f"/api/v1/jobs/{job_id}/retry").status_code == 200
    wait_for(lambda: executions(job_id) >= 5, timeout=20, message="the retried job to run")
    job = wait_status(job_id, S.FAILED, timeout=60)
    assert job.attempts == 8 and JobAttempt.objects.filter(job_id=job_id).count() == 8
    retried = list(JobAttempt.objects.filter(job_id=job_id, number__gte=5).order_by("number"))
    new_gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in zip(retried, retried[1:], strict=False)]
    assert new_gaps[0] < 1.5, new_gaps  # the backoff restarted at 0.5 s, not at 8 s


def test_a_permanent_error_fails_at_once(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.permanent_fail")
    job = wait_status(job_id, S.FAILED, timeout=30)
    assert job.attempts == 1 and job.error_type == "PermanentError"


def test_a_job_cancelled_while_queued_never_runs(staff_client, start_worker):
    cancelled = submit(staff_client, "t.record", 1)
    assert staff_client.post(f"/api/v1/jobs/{cancelled}/cancel").json()["status"] == S.CANCELLED
    start_worker()
    marker = submit(staff_client, "t.record", 2)
    wait_status(marker, S.SUCCEEDED, timeout=30)
    assert Job.objects.get(pk=cancelled).status == S.CANCELLED
    assert executions(cancelled) == 0


def test_a_running_job_cancelled_stops_within_two_seconds(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.long_cooperative", seconds=60)
    wait_status(job_id, S.RUNNING, timeout=30)
    wait_for(lambda: Job.objects.get(pk=job_id).progress == 50, timeout=10, message="progress to show")
    asked = time.monotonic()
    assert staff_client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    job = wait_status(job_id, S.CANCELLED, timeout=10)
    assert time.monotonic() - asked < 2.0
    assert JobAttempt.objects.get(job_id=job_id).outcome == AttemptOutcome.CANCELLED
    assert job.finished_at is not None


def test_sigkill_mid_job_runs_it_again_and_records_the_lost_attempt(staff_client, start_worker):
    worker = start_worker()
    job_id = submit(staff_client, "t.slow", seconds=3)
    wait_status(job_id, S.RUNNING, timeout=30)
    killed_at = time.monotonic()
    worker.kill_child()
    job = wait_status(job_id, S.SUCCEEDED, timeout=30)
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < 30, recovered_in
    assert job.attempts == 2 and executions(job_id) == 1
    lost = JobAttempt.objects.get(job_id=job_id)
    assert (lost.number, lost.outcome, lost.error_type) == (1, AttemptOutcome.LOST, "WorkerLost")


def test_a_job_that_kills_its_worker_every_time_ends_failed(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.kill_worker")  # max_retries=2
    job = wait_status(job_id, S.FAILED, timeout=90)
    assert job.attempts == 3 and executions(job_id) == 3
    outcomes = list(JobAttempt.objects.filter(job_id=job_id).values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.LOST] * 3
    time.sleep(3)  # nothing brings it back
    assert Job.objects.get(pk=job_id).status == S.FAILED and executions(job_id) == 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A Redis server of the test's own, so that stopping it disturbs nobody."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=10, message="private redis")

    def answers(self):
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_redis_down_during_submit_keeps_the_job_and_runs_it_later(staff_client, start_worker, tmp_path):
    private = PrivateRedis(tmp_path)
    private.start()
    previous = dramatiq.get_broker()
    broker = RedisBroker(url=private.url, namespace=previous.namespace)
    dramatiq.set_broker(broker)
    try:
        worker = start_worker(env={"REDIS_URL": private.url})
        private.stop()
        response = staff_client.post("/api/v1/jobs", {"actor": "t.record", "args": [7]}, format="json")
        assert response.status_code == 201
        job_id = response.json()["id"]
        assert Job.objects.get(pk=job_id).status == S.PENDING
        private.start()
        job = wait_status(job_id, S.SUCCEEDED, timeout=45)
        assert job.attempts == 1 and job.result == 7
        worker.stop()  # while its Redis runs: a drain without a broker waits out its shutdown timeout
    finally:
        dramatiq.set_broker(previous)
        private.stop()


def test_soft_time_limit_lets_the_job_clean_up(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.soft_limited")
    job = wait_status(job_id, S.FAILED, timeout=20)
    assert job.error_type == "SoftTimeLimitExceeded"
    assert dramatiq.get_broker().client.hget(executions_key(), f"cleanup:{job_id}") == b"1"


def test_hard_time_limit_stops_the_job(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.hard_limited")
    job = wait_status(job_id, S.FAILED, timeout=20)
    assert job.error_type == "TimeLimitExceeded"
    assert job.run_seconds < 5


def test_an_abortable_job_that_never_checks_is_aborted_on_cancel(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.abortable", seconds=60)
    wait_status(job_id, S.RUNNING, timeout=20)
    workers = staff_client.get("/api/v1/workers").json()
    assert [j["id"] for w in workers for j in w["running_jobs"]] == [job_id]
    assert workers[0]["heartbeat_age_seconds"] < 3
    asked = time.monotonic()
    staff_client.post(f"/api/v1/jobs/{job_id}/cancel")
    wait_status(job_id, S.CANCELLED, timeout=10)
    assert time.monotonic() - asked < 3


def test_progress_is_visible_in_the_api_while_running(staff_client, start_worker):
    start_worker()
    job_id = submit(staff_client, "t.long_cooperative", seconds=30)
    wait_status(job_id, S.RUNNING, timeout=20)
    body = wait_for(
        lambda: (b := staff_client.get(f"/api/v1/jobs/{job_id}").json())["progress"] == 50 and b,
        timeout=10,
        message="progress in the API",
    )
    assert body["status"] == S.RUNNING and body["progress_message"] == "working"
    staff_client.post(f"/api/v1/jobs/{job_id}/cancel")
    wait_status(job_id, S.CANCELLED, timeout=10)


def test_a_worker_for_chosen_queues_leaves_the_others_alone(staff_client, start_worker):
    start_worker(queues=["reports"])
    elsewhere = submit(staff_client, "t.record", 1)
    response = staff_client.post("/api/v1/jobs", {"actor": "t.record", "args": [2], "queue": "reports"}, format="json")
    wait_status(response.json()["id"], S.SUCCEEDED, timeout=20)
    assert Job.objects.get(pk=elsewhere).status == S.QUEUED


def test_a_redis_restart_that_loses_queued_messages_loses_no_job(staff_client, start_worker, tmp_path):
    private = PrivateRedis(tmp_path)
    private.start()
    previous = dramatiq.get_broker()
    dramatiq.set_broker(RedisBroker(url=private.url, namespace=previous.namespace))
    try:
        worker = start_worker(threads=1, env={"REDIS_URL": private.url})
        ids = [submit(staff_client, "t.slow", 0.3) for _ in range(12)]
        wait_for(lambda: Job.objects.filter(status=S.SUCCEEDED).count() >= 2, timeout=20, message="a first job")
        private.stop()  # no persistence: every waiting message is gone
        private.start()
        wait_for(
            lambda: Job.objects.filter(pk__in=ids, status=S.SUCCEEDED).count() == 12,
            timeout=60,
            interval=0.5,
            message="all 12 jobs to succeed after the restart",
        )
        assert set(Job.objects.filter(pk__in=ids).values_list("attempts", flat=True)) <= {1, 2}
        worker.stop()  # while its Redis runs (see above)
    finally:
        dramatiq.set_broker(previous)
        private.stop()


def test_the_hard_time_limit_stops_a_job_stuck_in_c_code(staff_client, start_worker):
    """Defect 11: Dramatiq's time limit cannot interrupt a C call; the job stayed running forever
    while its process heartbeat. The supervisor restarts the process past the limit plus a grace."""
    start_worker(processes=1, threads=2)
    stuck = submit(staff_client, "t.stuck_in_c", seconds=60)  # time_limit 1 s, grace 1 s in the tests
    started = time.monotonic()
    job = wait_status(stuck, S.FAILED, timeout=30)
    assert time.monotonic() - started < 20
    attempt = JobAttempt.objects.get(job_id=stuck)
    assert (attempt.outcome, attempt.error_type, attempt.charged) == (AttemptOutcome.TIMEOUT, "TimeLimitExceeded", True)
    assert job.error_type == "TimeLimitExceeded"
    after = submit(staff_client, "t.record", 1)  # the restarted process works
    wait_status(after, S.SUCCEEDED, timeout=30)


def test_jobs_that_shared_a_killed_process_are_not_charged_and_run_again_at_once(staff_client, start_worker):
    """Defect 12: lost attempts were charged to jobs that only shared a pool with the one that
    crashed, retried at the back of the queue."""
    worker = start_worker(processes=1, threads=4)
    ids = [submit(staff_client, "t.slow", seconds=4) for _ in range(3)]
    wait_for(lambda: Job.objects.filter(pk__in=ids, status=S.RUNNING).count() == 3, timeout=30, message="3 running")
    killed_at = time.monotonic()
    worker.kill_child()
    wait_for(
        lambda: not Job.objects.filter(pk__in=ids, status=S.RUNNING, dispatch_token=0).exists(),
        timeout=10,
        message="the killed process's jobs to be released",
    )
    assert time.monotonic() - killed_at < 5  # released by the supervisor at once, not after a timeout
    for job_id in ids:
        job = wait_status(job_id, S.SUCCEEDED, timeout=60)
        assert job.attempts == 2 and job.uncharged_attempts == 1 and executions(job_id) == 1
        lost = JobAttempt.objects.get(job_id=job_id)
        assert (lost.outcome, lost.charged) == (AttemptOutcome.LOST, False)


def test_a_worker_started_on_a_backlog_runs_every_job_without_recovery(staff_client, start_worker):
    """The first messages reach the worker threads before Dramatiq's after_worker_boot: a runtime
    created there skipped (and acked) them, and only the lost-message check brought them back."""
    ids = [submit(staff_client, "t.record", n) for n in range(200)]
    start_worker(processes=1, threads=8, env={"JOBS_LOST_MESSAGE_AGE": "600"})
    wait_for(
        lambda: Job.objects.filter(pk__in=ids, status=S.SUCCEEDED).count() == 200,
        timeout=60,
        message="200 backlogged jobs to succeed",
    )
    assert not Job.objects.filter(pk__in=ids, dispatch_token__gt=0).exists()  # none was republished
