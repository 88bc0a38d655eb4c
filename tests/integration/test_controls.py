"""Queue controls with real worker processes: pause, concurrency and rate limits across
processes, and priority under saturation. Effects are counted by the probe actor in Redis."""

import time

import dramatiq
import pytest

from jobs import services
from jobs.controls import services as controls
from jobs.models import Job, JobStatus
from tests.integration.actors import probe_keys
from tests.integration.conftest import wait_for

S = JobStatus
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def starts(tag: str) -> list[tuple[str, float]]:
    rows = dramatiq.get_broker().client.lrange(probe_keys(tag)[2], 0, -1)
    return [(job_id, float(at)) for job_id, at in (row.decode().split() for row in rows)]


def most_at_once(tag: str) -> int:
    return int(dramatiq.get_broker().client.get(probe_keys(tag)[1]) or 0)


def submit(tag: str, *, queue=None, priority=0, seconds=0.0) -> str:
    submitted = services.job_submit(
        actor_name="t.probe", kwargs={"tag": tag, "seconds": seconds}, queue=queue, priority=priority
    )
    return str(submitted.job.pk)


def all_succeeded(ids) -> bool:
    return Job.objects.filter(pk__in=ids, status=S.SUCCEEDED).count() == len(ids)


def test_a_paused_queue_starts_nothing_while_another_runs_then_drains_after_resume(start_worker):
    # Messages already in Redis when the queue is paused: the worker gives them back, uncharged.
    paused_ids = [submit("paused", queue="scans") for _ in range(5)]
    assert set(Job.objects.filter(pk__in=paused_ids).values_list("status", flat=True)) == {S.QUEUED}
    controls.queue_pause(queue_name="scans")
    start_worker(processes=1, threads=4, queues=["default", "scans"])
    running_ids = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        running_ids.append(submit("other", queue="default"))
        time.sleep(0.5)
        paused_ids.append(submit("paused", queue="scans"))  # accepted while paused
    wait_for(lambda: all_succeeded(running_ids), timeout=30, message="the other queue's jobs")
    assert starts("paused") == []
    assert len(starts("other")) == len(running_ids)
    held = Job.objects.filter(pk__in=paused_ids)
    assert set(held.values_list("status", flat=True)) <= {S.PENDING, S.QUEUED}
    assert set(held.values_list("attempts", flat=True)) == {0}

    controls.queue_resume(queue_name="scans")
    wait_for(lambda: all_succeeded(paused_ids), timeout=30, message="the resumed queue to drain")
    assert len(starts("paused")) == len(paused_ids)
    assert set(Job.objects.filter(pk__in=paused_ids).values_list("attempts", flat=True)) == {1}


def test_a_pause_reaches_a_busy_worker_within_two_seconds_and_running_jobs_finish(start_worker):
    start_worker(processes=1, threads=2, queues=["scans"])
    ids = [submit("busy", queue="scans", seconds=0.2) for _ in range(60)]
    wait_for(lambda: len(starts("busy")) >= 4, timeout=20, message="the queue to be busy")
    controls.queue_pause(queue_name="scans")
    time.sleep(2)
    started = len(starts("busy"))
    time.sleep(3)
    assert len(starts("busy")) == started < 60
    wait_for(lambda: not Job.objects.filter(pk__in=ids, status=S.RUNNING).exists(), timeout=10, message="a drain")
    assert Job.objects.filter(pk__in=ids, status=S.SUCCEEDED).count() == started  # the running ones finished
    controls.queue_resume(queue_name="scans")
    wait_for(lambda: all_succeeded(ids), timeout=60, message="the resumed queue to drain")
    assert set(Job.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_a_concurrency_limit_of_two_holds_across_two_worker_processes(start_worker):
    controls.queue_set_limits(queue_name="reports", max_concurrency=2)
    start_worker(processes=1, threads=4, queues=["reports"])
    start_worker(processes=1, threads=4, queues=["reports"])
    ids = [submit("limited", queue="reports", seconds=0.3) for _ in range(20)]
    wait_for(lambda: all_succeeded(ids), timeout=90, interval=0.5, message="20 limited jobs")
    assert most_at_once("limited") == 2  # never 3, and the limit was reached
    assert set(Job.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_an_actor_rate_limit_of_ten_per_second_holds_across_two_worker_processes(start_worker):
    controls.actor_set_limits(actor_name="t.probe", rate_limit=10, rate_period=1.0)
    start_worker(processes=1, threads=4, queues=["documents"])
    start_worker(processes=1, threads=4, queues=["documents"])
    ids = [submit("rated", queue="documents") for _ in range(40)]
    wait_for(lambda: all_succeeded(ids), timeout=90, interval=0.5, message="40 rate-limited jobs")
    times = sorted(at for _, at in starts("rated"))
    assert len(times) == 40
    # At most 10 starts in any window a little shorter than the period (the actor starts a few
    # milliseconds after its admission, which is what the limiter times).
    busiest = max(sum(1 for t in times if start <= t < start + 0.9) for start in times)
    assert busiest <= 10, busiest
    assert times[-1] - times[0] >= 2.8  # 40 starts at 10 per second take about 3 s
    assert set(Job.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_under_saturation_a_later_high_priority_job_starts_before_earlier_low_ones(start_worker):
    controls.queue_set_limits(queue_name="maintenance", ready_window=1)
    start_worker(processes=1, threads=1, queues=["maintenance"])
    # The blocker runs long enough for eleven submits on a loaded machine: had it ended before the
    # high job was submitted, the lows dispatched meanwhile would start first, rightly. (Three lows
    # ahead with the blocker still running was a real defect: the submitter's hook and the worker's
    # dispatcher both filled the window's one slot; see test_gate's two-publishers test.)
    blocker = submit("lanes", queue="maintenance", seconds=5.0)
    wait_for(lambda: len(starts("lanes")) == 1, timeout=20, message="the blocker to start")
    low = [submit("lanes", queue="maintenance", priority=0, seconds=0.05) for _ in range(10)]
    high = submit("lanes", queue="maintenance", priority=10, seconds=0.05)
    assert Job.objects.get(pk=blocker).status == S.RUNNING, "the submits outlasted the blocker: nothing to judge"
    wait_for(lambda: all_succeeded([blocker, *low, high]), timeout=60, message="the lanes to drain")
    order = [job_id for job_id, _ in sorted(starts("lanes"), key=lambda row: row[1])]
    assert order[0] == blocker
    lows_before_high = order.index(high) - 1
    # Ahead of it: at most the window (1) and the one message the worker prefetched beside the
    # blocker; Redis alone (FIFO) would have started all ten first.
    assert lows_before_high <= 2, order
