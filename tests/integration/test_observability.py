"""Resource accounting, the worker pages and /metrics with a real worker process."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Job, JobAttempt, JobStatus, Worker
from tests.integration.conftest import wait_for, wait_status
from tests.integration.test_engine import submit

S = JobStatus
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_cpu_burning_attempt_costs_cpu_and_a_sleeping_one_almost_none(staff_client, staff_browser, start_worker):
    start_worker(processes=1, threads=4)
    burner = submit(staff_client, "t.burn_cpu")
    sleeper = submit(staff_client, "t.slow", 1.0)
    failing = submit(staff_client, "t.burn_cpu", 1_000_000, True)
    burned = wait_status(burner, S.SUCCEEDED, timeout=60)
    slept = wait_status(sleeper, S.SUCCEEDED, timeout=60)
    wait_status(failing, S.FAILED, timeout=60)

    assert burned.cpu_seconds > 0.05, burned.cpu_seconds  # 3 million rounds of Python arithmetic
    assert slept.cpu_seconds < 0.05, slept.cpu_seconds  # a second of sleep is not CPU time
    assert burned.cpu_seconds > 5 * slept.cpu_seconds
    assert burned.peak_rss_bytes > 10 * 1024 * 1024 and burned.rss_growth_bytes >= 0
    attempt = JobAttempt.objects.get(job_id=failing)
    assert attempt.cpu_seconds > 0.01 and attempt.peak_rss_bytes > 0  # a failed attempt is measured too

    # The worker reported its memory, and its detail shows the attempts it ran.
    worker = wait_for(
        lambda: Worker.objects.filter(pk=burned.worker_id, rss_bytes__gt=0).first(), timeout=10, message="rss"
    )
    detail = staff_client.get(f"/api/v1/workers/{worker.id}").json()
    assert detail["state"] == "live" and detail["rss_bytes"] > 10 * 1024 * 1024
    assert {a["job_id"] for a in detail["recent_attempts"]} == {burner, sleeper, failing}
    assert {a["outcome"] for a in detail["recent_attempts"]} == {"succeeded", "failed"}

    usage = {row["actor"]: row for row in staff_client.get("/api/v1/actors/usage").json()}
    assert usage["t.burn_cpu"]["attempts"] == 2 and usage["t.slow"]["attempts"] == 1
    assert usage["t.burn_cpu"]["cpu_seconds_max"] == pytest.approx(burned.cpu_seconds, rel=1e-3)

    scraped = {f.name: f for f in text_string_to_metric_families(staff_browser.get("/metrics").content.decode())}
    processes = [s for s in scraped["jobs_worker_processes"].samples if s.labels["queue"] == "default"]
    assert sum(s.value for s in processes) == 1
    assert Job.objects.filter(status=S.SUCCEEDED).count() == 2
