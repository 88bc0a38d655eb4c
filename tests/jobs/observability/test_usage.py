"""What an attempt cost: the measurement itself, and where the worker path stores it."""

import threading
import time

import psutil
import pytest
from django.db import connection

from jobs import services, states
from jobs.models import Job, JobAttempt, JobStatus
from jobs.observability.usage import attempt_usage, sample
from tests.factories import JobFactory
from tests.jobs.test_worker_runtime import message, tracking  # noqa: F401 (fixture)

S = JobStatus


def _burn(rounds=2_000_000) -> int:
    total = 0
    for n in range(rounds):
        total += n % 3
    return total


def _in_thread(fn):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("value", fn()))
    thread.start()
    thread.join(60)
    return box["value"]


def test_cpu_time_is_the_threads_own():
    def burn():
        started = sample()
        _burn()
        return attempt_usage(started)

    def sleep():
        started = sample()
        time.sleep(0.3)
        return attempt_usage(started)

    burned, slept = _in_thread(burn), _in_thread(sleep)
    assert burned.cpu_seconds > 0.02
    assert slept.cpu_seconds < burned.cpu_seconds / 5


def test_the_peak_grows_only_when_the_process_reaches_a_new_high():
    started = sample()
    rss = psutil.Process().memory_info().rss
    # Enough to pass the process's highest mark so far, by 64 MiB.
    block = bytearray(max(started[1] - rss, 0) + 64 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
    grown = attempt_usage(started)
    del block
    assert grown.peak_rss_bytes >= started[1] + 32 * 1024 * 1024
    assert grown.rss_growth_bytes >= 32 * 1024 * 1024
    again = attempt_usage(sample())
    assert again.rss_growth_bytes == 0 and again.peak_rss_bytes >= grown.peak_rss_bytes


@pytest.mark.django_db
def test_a_success_without_usage_leaves_it_unmeasured_and_with_usage_stores_it():
    plain, measured = JobFactory(status=S.RUNNING), JobFactory(status=S.RUNNING)
    moved = states.succeed_many([(plain.pk, 0, None), (measured.pk, 0, {"ok": 1}, 0.25, 123_456_789, 4096)])
    assert moved == {str(plain.pk), str(measured.pk)}
    rows = {str(j.pk): j for j in Job.objects.all()}
    assert rows[str(plain.pk)].cpu_seconds is None and rows[str(plain.pk)].peak_rss_bytes is None
    job = rows[str(measured.pk)]
    assert (job.status, job.cpu_seconds, job.peak_rss_bytes, job.rss_growth_bytes) == (
        S.SUCCEEDED,
        0.25,
        123_456_789,
        4096,
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_path_stores_usage_for_successes_and_failures(tracking):  # noqa: F811
    ok, bad = JobFactory(status=S.QUEUED, actor_name="echo"), JobFactory(status=S.QUEUED, actor_name="echo")

    def run(job, **outcome):
        msg = message(job)
        tracking.before_process_message(None, msg)
        _burn()
        tracking.after_process_message(None, msg, **outcome)
        connection.close()
        return True

    _in_thread(lambda: run(ok, result={"done": True}))
    _in_thread(lambda: run(bad, exception=ValueError("no")))
    deadline = time.monotonic() + 10
    while Job.objects.get(pk=ok.pk).status != S.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.05)  # the finisher writes successes in its own thread
    succeeded = Job.objects.get(pk=ok.pk)
    assert succeeded.status == S.SUCCEEDED and succeeded.cpu_seconds > 0.02
    assert succeeded.peak_rss_bytes > 0 and succeeded.rss_growth_bytes is not None
    attempt = JobAttempt.objects.get(job_id=bad.pk)
    assert attempt.cpu_seconds > 0.02 and attempt.peak_rss_bytes > 0


@pytest.mark.django_db
def test_a_lost_attempt_has_no_usage():
    job = JobFactory(status=S.RUNNING, worker_id="w:1", attempts=1)
    services.jobs_release(worker_ids=["w:1"], reason=services.ReleaseReason.STOPPED)
    attempt = JobAttempt.objects.get(job=job)
    assert attempt.cpu_seconds is None and attempt.peak_rss_bytes is None
