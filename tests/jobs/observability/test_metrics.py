"""/metrics: who may scrape it, and that what it says is what the database holds."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import AttemptOutcome, JobAttempt, JobStatus, Worker, WorkerHost
from jobs.scheduling.models import Schedule
from tests.factories import JobFactory

S = JobStatus
pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def samples(families, name) -> dict:
    """{(label values...): value} of a family's samples (counters: their _total samples)."""
    family = families[name]
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if not s.name.endswith("_created")}


@pytest.fixture
def engine_state(db):
    now = timezone.now()
    for _ in range(3):
        JobFactory(status=S.QUEUED, queue_name="default", available_at=now - timedelta(seconds=90))
    JobFactory(status=S.PENDING, queue_name="scans", available_at=now - timedelta(seconds=5))
    JobFactory(status=S.RUNNING, queue_name="default", worker_id="h1/1")
    for _ in range(2):
        JobFactory(status=S.SUCCEEDED, queue_name="reports")
    failed = JobFactory(status=S.FAILED, queue_name="default", attempts=2)
    JobAttempt.objects.create(job=failed, number=1, outcome=AttemptOutcome.FAILED)
    JobAttempt.objects.create(job=failed, number=2, outcome=AttemptOutcome.TIMEOUT)
    lost = JobFactory(status=S.QUEUED, queue_name="scans", attempts=1, available_at=now)
    JobAttempt.objects.create(job=lost, number=1, outcome=AttemptOutcome.LOST, charged=False)
    host = WorkerHost.objects.create(id="h1", hostname="alpha", pid=10, queues=["default", "scans"])
    Worker.objects.create(
        id="h1/1",
        host=host,
        hostname="alpha",
        pid=11,
        queues=["default", "scans"],
        threads=8,
        running_jobs=1,
        rss_bytes=50_000_000,
    )
    Worker.objects.create(id="h1/2", host=host, hostname="alpha", pid=12, queues=["default"], threads=8)
    Worker.objects.create(  # stopped: not counted
        id="h1/3", host=host, hostname="alpha", pid=13, queues=["default"], threads=8, stopped_at=now
    )
    Schedule.objects.create(
        name="late", actor_name="echo", interval_seconds=60, next_run_at=now - timedelta(seconds=120)
    )
    Schedule.objects.create(
        name="on-time", actor_name="echo", interval_seconds=60, next_run_at=now + timedelta(seconds=30)
    )
    Schedule.objects.create(
        name="paused", actor_name="echo", interval_seconds=60, enabled=False, next_run_at=now - timedelta(days=1)
    )


def test_the_scrape_matches_the_database(engine_state, staff_browser):
    families = scrape(staff_browser)
    by_status = samples(families, "jobs_by_status")
    assert by_status[(("queue", "default"), ("status", "queued"))] == 3
    assert by_status[(("queue", "default"), ("status", "running"))] == 1
    assert by_status[(("queue", "default"), ("status", "failed"))] == 1
    assert by_status[(("queue", "reports"), ("status", "succeeded"))] == 2
    assert by_status[(("queue", "scans"), ("status", "queued"))] == 1
    assert by_status[(("queue", "maintenance"), ("status", "queued"))] == 0  # every queue, every status
    assert sum(by_status.values()) == 9

    depth = samples(families, "jobs_queue_depth")
    assert depth[(("queue", "default"),)] == 3 and depth[(("queue", "scans"),)] == 2
    oldest = samples(families, "jobs_queue_oldest_waiting_seconds")
    assert 85 <= oldest[(("queue", "default"),)] < 150
    assert oldest[(("queue", "reports"),)] == 0

    assert families["jobs_attempts"].type == "counter"
    attempts = {s.labels["outcome"]: s.value for s in families["jobs_attempts"].samples if s.name.endswith("_total")}
    assert attempts == {"succeeded": 2, "failed": 1, "timeout": 1, "lost": 1, "cancelled": 0}

    processes = samples(families, "jobs_worker_processes")
    assert processes == {(("host", "alpha"), ("queue", "default")): 2, (("host", "alpha"), ("queue", "scans")): 1}
    assert samples(families, "jobs_worker_threads")[(("host", "alpha"), ("queue", "default"))] == 16
    assert samples(families, "jobs_worker_running_jobs") == {(("host", "alpha"),): 1}
    assert samples(families, "jobs_worker_resident_memory_bytes") == {(("host", "alpha"), ("worker", "h1/1")): 5e7}

    lag = samples(families, "jobs_scheduler_lag_seconds")[()]
    assert 115 <= lag < 180  # the late schedule; the paused one does not count


def test_an_empty_engine_reports_zeros(staff_browser):
    families = scrape(staff_browser)
    assert set(samples(families, "jobs_by_status").values()) == {0}
    assert samples(families, "jobs_scheduler_lag_seconds")[()] == 0
    assert samples(families, "jobs_worker_processes") == {}


def test_metric_names_follow_the_conventions(staff_browser):
    families = scrape(staff_browser)
    assert all(name.startswith("jobs_") for name in families)
    for family in families.values():
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples)
    assert {n for n in families if "seconds" in n} == {
        "jobs_queue_oldest_waiting_seconds",
        "jobs_scheduler_lag_seconds",
    }


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("reader", 403), ("staff", 200), ("bearer", 200), ("wrong-bearer", 401)],
)
def test_access(who, status, settings, reader_user, staff_user):
    settings.METRICS_TOKEN = "s3cret-scrape"
    client, headers = Client(), {}
    if who in ("reader", "staff"):
        client.force_login(staff_user if who == "staff" else reader_user)
    elif who == "bearer":
        headers = {"Authorization": "Bearer s3cret-scrape"}
    elif who == "wrong-bearer":
        headers = {"Authorization": "Bearer s3cret-scrapf"}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    if status == 200:
        assert b"jobs_by_status" in response.content


def test_no_token_configured_means_no_bearer_access(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_public_and_disabled(settings):
    settings.METRICS_PUBLIC = True
    assert Client().get("/metrics").status_code == 200
    settings.METRICS_ENABLED = False
    assert Client().get("/metrics").status_code == 404


def test_a_scrape_costs_the_same_queries_at_any_size(staff_browser):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape(staff_browser)
        return len(captured)

    queries()  # warms the caches a scrape reads through (the queue controls' snapshot)
    small = queries()
    host = WorkerHost.objects.create(id="h9", hostname="beta", pid=1)
    for n in range(5):
        Worker.objects.create(id=f"h9/{n}", host=host, hostname="beta", pid=n, queues=["default"], threads=2)
        failed = JobFactory(status=S.FAILED, queue_name="scans")
        JobAttempt.objects.create(job=failed, number=1, outcome=AttemptOutcome.FAILED)
    assert queries() == small
