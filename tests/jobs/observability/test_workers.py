"""Worker detail (page and API), the pools on the workers page, per-actor usage, usage on the job page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import AttemptOutcome, JobAttempt, JobStatus, Worker, WorkerHost
from jobs.observability import selectors
from tests.factories import JobFactory

S = JobStatus
pytestmark = pytest.mark.django_db
WORKER_ID = "alpha:10:ab12/11"


def size(text: str) -> str:
    """A size as Django's filesizeformat writes it (a no-break space before the unit)."""
    return text.replace(" ", "\xa0")


@pytest.fixture
def worker(db):
    host = WorkerHost.objects.create(id="alpha:10:ab12", hostname="alpha", pid=10, queues=["default"])
    started = timezone.now() - timedelta(hours=1)
    worker = Worker.objects.create(
        id=WORKER_ID,
        host=host,
        hostname="alpha",
        pid=11,
        queues=["default", "scans"],
        threads=8,
        rss_bytes=80 * 1024 * 1024,
        running_jobs=1,
        jobs_succeeded=25,
        jobs_failed=1,
    )
    Worker.objects.filter(pk=worker.pk).update(started_at=started)
    Worker.objects.create(
        id="alpha:10:ab12/12",
        host=host,
        hostname="alpha",
        pid=12,
        queues=["default"],
        threads=4,
        rss_bytes=20 * 1024 * 1024,
    )
    now = timezone.now()
    JobFactory(status=S.RUNNING, worker_id=WORKER_ID, actor_name="echo", attempts=1, started_at=now)
    for n in range(25):  # more than the page shows
        JobFactory(
            status=S.SUCCEEDED,
            worker_id=WORKER_ID,
            actor_name="echo",
            attempts=1,
            started_at=now - timedelta(minutes=30, seconds=n + 1),
            finished_at=now - timedelta(minutes=30, seconds=n),
            cpu_seconds=0.01 * (n + 1),
            peak_rss_bytes=70_000_000,
            rss_growth_bytes=0,
        )
    failed = JobFactory(status=S.RETRYING, worker_id=WORKER_ID, actor_name="t.always_fail", attempts=1)
    JobAttempt.objects.create(
        job=failed,
        number=1,
        outcome=AttemptOutcome.FAILED,
        worker_id=WORKER_ID,
        error_type="ValueError",
        started_at=now - timedelta(seconds=2),
        cpu_seconds=0.5,
        peak_rss_bytes=90_000_000,
        rss_growth_bytes=10_000_000,
    )
    JobFactory(status=S.SUCCEEDED, worker_id="other/1", finished_at=now)  # another worker's
    return worker


def test_worker_detail_has_its_facts_current_and_recent_jobs(worker):
    detail = selectors.worker_get(WORKER_ID)
    assert (detail["hostname"], detail["pid"], detail["threads"], detail["state"]) == ("alpha", 11, 8, "live")
    assert detail["queues"] == ["default", "scans"] and detail["rss_bytes"] == 80 * 1024 * 1024
    assert 3500 < detail["uptime_seconds"] < 3700
    assert [j["actor"] for j in detail["current_jobs"]] == ["echo"]
    recent = detail["recent_attempts"]
    assert len(recent) == 20
    assert recent[0]["outcome"] == "failed" and recent[0]["error_type"] == "ValueError"  # the newest
    assert recent[0]["cpu_seconds"] == 0.5
    assert all(a["outcome"] == "succeeded" for a in recent[1:])
    assert [a["cpu_seconds"] for a in recent[1:4]] == [0.01, 0.02, 0.03]  # newest first
    assert selectors.worker_get("nobody/1") is None


def test_a_stopped_worker_shows_its_life_span(worker):
    Worker.objects.filter(pk=WORKER_ID).update(stopped_at=timezone.now(), stop_reason="stopped")
    detail = selectors.worker_get(WORKER_ID)
    assert detail["state"] == "stopped" and 3500 < detail["uptime_seconds"] < 3700


def test_the_api_answers_the_detail_and_404(worker, reader_client):
    response = reader_client.get(f"/api/v1/workers/{WORKER_ID}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == WORKER_ID and len(body["recent_attempts"]) == 20 and body["current_jobs"][0]["attempt"] == 1
    missing = reader_client.get("/api/v1/workers/nobody/1")
    assert missing.status_code == 404 and set(missing.json()["error"]) == {"code", "message", "details"}


def test_pools_group_processes_by_host(worker):
    pools = selectors.worker_pools()
    assert pools == [
        {
            "host_id": "alpha:10:ab12",
            "hostname": "alpha",
            "processes": 2,
            "threads": 12,
            "running_jobs": 1,
            "rss_bytes": 100 * 1024 * 1024,
            "queues": ["default", "scans"],
        }
    ]


def test_the_pages(worker, reader_browser):
    page = reader_browser.get("/workers/").content.decode()
    assert 'id="worker-pools"' in page and size("100.0 MB") in page and f'href="/workers/{WORKER_ID}/"' in page
    detail = reader_browser.get(f"/workers/{WORKER_ID}/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert size("80.0 MB") in text and "t.always_fail" in text and "ValueError" in text
    assert reader_browser.get("/workers/nobody/1/").status_code == 404
    actors = reader_browser.get("/actors/?window=60").content.decode()
    assert 'data-actor="echo"' in actors and "0.2500 s" in actors  # echo's max CPU of 25 attempts


def test_actor_usage_aggregates_successes_and_failed_attempts(worker):
    usage = {row["actor"]: row for row in selectors.actor_usage(window_minutes=60)}
    echo = usage["echo"]
    assert echo["attempts"] == 25
    assert echo["cpu_seconds_avg"] == pytest.approx(0.13)
    assert echo["cpu_seconds_p95"] == pytest.approx(0.01 + 0.95 * 0.24)  # percentile_cont of 0.01 … 0.25
    assert echo["cpu_seconds_max"] == pytest.approx(0.25) and echo["peak_rss_bytes_max"] == 70_000_000
    failing = usage["t.always_fail"]
    assert (failing["attempts"], failing["rss_growth_bytes_max"]) == (1, 10_000_000)
    assert selectors.actor_usage(window_minutes=1).__len__() == 1  # only the failed attempt is that recent


def test_python_and_sql_aggregates_agree(worker):
    since = timezone.now() - timedelta(minutes=60)
    python = selectors._usage_in_python(since)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(selectors.USAGE_SQL, [since, since])
            sql = cursor.fetchall()
        assert [r[:2] for r in python] == [r[:2] for r in sql]
        for p, s in zip(python, sql, strict=True):
            assert p[2:5] == pytest.approx(s[2:5]) and p[5:] == s[5:]


def test_the_job_page_and_api_show_what_each_attempt_cost(reader_browser, reader_client):
    job = JobFactory(
        status=S.SUCCEEDED,
        attempts=2,
        worker_id=WORKER_ID,
        cpu_seconds=1.5,
        peak_rss_bytes=2**30,
        rss_growth_bytes=2**20,
        finished_at=timezone.now(),
    )
    JobAttempt.objects.create(job=job, number=1, outcome=AttemptOutcome.FAILED, cpu_seconds=0.25, peak_rss_bytes=2**29)
    page = reader_browser.get(f"/jobs/{job.pk}/").content.decode()
    assert f"CPU 1.500 s · peak RSS {size('1.0 GB')} (+{size('1.0 MB')})" in page
    assert f"CPU 0.250 s · peak RSS {size('512.0 MB')}" in page
    assert f'href="/workers/{WORKER_ID}/"' in page
    body = reader_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert (body["cpu_seconds"], body["peak_rss_bytes"]) == (1.5, 2**30)
    assert body["attempt_log"][0]["cpu_seconds"] == 0.25


def test_the_worker_page_costs_the_same_queries_at_any_history(worker, reader_browser):
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert reader_browser.get(f"/workers/{WORKER_ID}/?partial=1").status_code == 200
        return len(captured)

    before = queries()
    for _ in range(10):
        failed = JobFactory(status=S.FAILED, worker_id=WORKER_ID, actor_name="t.always_fail", attempts=1)
        JobAttempt.objects.create(job=failed, number=1, outcome=AttemptOutcome.FAILED, worker_id=WORKER_ID)
        JobFactory(status=S.RUNNING, worker_id=WORKER_ID)
    assert queries() == before
