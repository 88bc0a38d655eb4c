import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, JobAttempt, JobStatus
from tests.factories import JobFactory

S = JobStatus


def error_of(response):
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.mark.django_db
def test_submit_creates_then_matches_the_idempotency_key(staff_client):
    payload = {"actor": "echo", "args": [1], "kwargs": {"a": "b"}, "idempotency_key": "api-1", "priority": 5}
    first = staff_client.post("/api/v1/jobs", payload, format="json")
    assert first.status_code == 201
    assert first.json()["status"] in (S.PENDING, S.QUEUED) and first.json()["priority"] == 5
    second = staff_client.post("/api/v1/jobs", payload, format="json")
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_bad_submissions_are_refused_and_write_nothing(staff_client, settings):
    unknown = staff_client.post("/api/v1/jobs", {"actor": "nope"}, format="json")
    assert unknown.status_code == 400
    assert "echo" in error_of(unknown)["details"]["valid_actors"]
    bad_args = staff_client.post("/api/v1/jobs", {"actor": "echo", "args": {"not": "a list"}}, format="json")
    assert bad_args.status_code == 400
    missing = staff_client.post("/api/v1/jobs", {}, format="json")
    assert missing.status_code == 400 and "actor" in error_of(missing)["message"]
    big = staff_client.post("/api/v1/jobs", {"actor": "echo", "args": ["x" * 70_000]}, format="json")
    assert big.status_code == 413 and error_of(big)["code"] == "payload_too_large"
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_readers_cannot_submit_cancel_or_retry(reader_client):
    job = JobFactory(status=S.FAILED)
    assert reader_client.post("/api/v1/jobs", {"actor": "echo"}, format="json").status_code == 403
    assert reader_client.post(f"/api/v1/jobs/{job.pk}/retry").status_code == 403
    assert reader_client.post(f"/api/v1/jobs/{job.pk}/cancel").status_code == 403
    assert reader_client.get("/api/v1/jobs").status_code == 200
    assert Job.objects.get(pk=job.pk).status == S.FAILED


@pytest.mark.django_db
def test_list_filters_and_cursor_pagination(staff_client):
    now = timezone.now()
    for i in range(7):
        JobFactory(status=S.SUCCEEDED, created_at=now - timedelta(minutes=i))
    JobFactory(status=S.FAILED, actor_name="countdown", queue_name="scans", error_message="disk full")
    page = staff_client.get("/api/v1/jobs", {"page_size": 3}).json()
    assert len(page["results"]) == 3 and page["next"]
    seen = [r["id"] for r in page["results"]]
    while page["next"]:
        page = staff_client.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
    assert len(seen) == len(set(seen)) == 8
    assert [r["actor"] for r in staff_client.get("/api/v1/jobs", {"status": "failed"}).json()["results"]] == [
        "countdown"
    ]
    assert len(staff_client.get("/api/v1/jobs", {"queue": "scans"}).json()["results"]) == 1
    assert len(staff_client.get("/api/v1/jobs", {"search": "disk"}).json()["results"]) == 1
    assert staff_client.get("/api/v1/jobs", {"status": "bogus"}).status_code == 400


@pytest.mark.django_db
def test_detail_shows_every_attempt(staff_client):
    job = JobFactory(status=S.FAILED, attempts=2)
    for n in (1, 2):
        JobAttempt.objects.create(job=job, number=n, outcome="failed", finished_at=timezone.now(), traceback=f"tb{n}")
    body = staff_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert [a["traceback"] for a in body["attempt_log"]] == ["tb1", "tb2"]
    assert staff_client.get(f"/api/v1/jobs/{uuid.uuid4()}").status_code == 404
    for action in ("cancel", "retry"):
        response = staff_client.post(f"/api/v1/jobs/not-a-uuid/{action}")
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"


@pytest.mark.django_db
def test_cancel_and_retry_conflicts_are_409(staff_client):
    done = JobFactory(status=S.SUCCEEDED)
    running = JobFactory(status=S.RUNNING)
    assert error_of(staff_client.post(f"/api/v1/jobs/{done.pk}/cancel"))["code"] == "invalid_transition"
    assert staff_client.post(f"/api/v1/jobs/{done.pk}/cancel").status_code == 409
    assert staff_client.post(f"/api/v1/jobs/{done.pk}/retry").status_code == 409
    assert staff_client.post(f"/api/v1/jobs/{running.pk}/retry").status_code == 409
    queued = JobFactory(status=S.QUEUED)
    assert staff_client.post(f"/api/v1/jobs/{queued.pk}/cancel").json()["status"] == S.CANCELLED
    assert staff_client.post(f"/api/v1/jobs/{queued.pk}/retry").status_code == 200


@pytest.mark.django_db
def test_bulk_retry_by_filter(staff_client):
    for _ in range(2):
        JobFactory(status=S.FAILED, actor_name="countdown", error_type="OSError")
    JobFactory(status=S.FAILED, actor_name="echo", error_type="ValueError")
    response = staff_client.post("/api/v1/jobs/retry", {"actor": "countdown"}, format="json")
    assert response.json() == {"retried": 2}
    response = staff_client.post("/api/v1/jobs/retry", {"error_type": "ValueError"}, format="json")
    assert response.json() == {"retried": 1}
    assert not Job.objects.filter(status=S.FAILED).exists()


@pytest.mark.django_db
def test_stats_queues_workers_actors(staff_client):
    now = timezone.now()
    JobFactory(
        status=S.SUCCEEDED,
        enqueued_at=now - timedelta(seconds=3),
        started_at=now - timedelta(seconds=2),
        finished_at=now,
    )
    JobFactory(
        status=S.QUEUED,
        queue_name="reports",
        created_at=now - timedelta(seconds=90),
        available_at=now - timedelta(seconds=90),
    )
    stats = staff_client.get("/api/v1/jobs/stats").json()
    assert stats["by_status"]["succeeded"] == 1 and stats["by_status"]["queued"] == 1
    assert stats["wait_seconds"]["p50"] == pytest.approx(1.0, abs=0.01)
    assert stats["run_seconds"]["p95"] == pytest.approx(2.0, abs=0.01)
    assert sum(m["succeeded"] for m in stats["throughput_per_minute"]) == 1
    queues = {q["name"]: q for q in staff_client.get("/api/v1/queues").json()}
    assert set(queues) == {"default", "scans", "reports", "documents", "maintenance"}
    assert queues["reports"]["queued"] == 1 and queues["reports"]["oldest_waiting_seconds"] >= 90
    assert isinstance(queues["default"]["broker_ready"], int)
    assert staff_client.get("/api/v1/workers").json() == []
    actors = {a["name"]: a for a in staff_client.get("/api/v1/actors").json()}
    assert actors["jobs.prune"]["queue"] == "maintenance"
    assert actors["t.always_fail"]["retry_policy"]["max_retries"] == 3
    assert actors["echo"]["time_limit"] == 1800 and actors["echo"]["soft_time_limit"] == 1500


@pytest.mark.django_db
def test_purge_deletes_only_matching_dead_jobs(staff_client, reader_client):
    dead = JobFactory(status=S.FAILED, actor_name="countdown", error_type="OSError")
    for n in (1, 2):  # its attempts go with it, and are not counted as jobs
        JobAttempt.objects.create(job=dead, number=n, outcome="failed", finished_at=timezone.now())
    JobFactory(status=S.FAILED, actor_name="echo", error_type="ValueError")
    kept = JobFactory(status=S.SUCCEEDED, actor_name="countdown")
    assert reader_client.post("/api/v1/jobs/purge", {}, format="json").status_code == 403
    assert staff_client.post("/api/v1/jobs/purge", {"actor": "countdown"}, format="json").json() == {"purged": 1}
    assert staff_client.post("/api/v1/jobs/purge", {}, format="json").json() == {"purged": 1}
    assert list(Job.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.django_db
def test_stats_count_every_finished_job_of_the_window(staff_client):
    now = timezone.now()
    earlier = now - timedelta(minutes=30)
    Job.objects.bulk_create(
        [
            Job(
                actor_name="echo",
                status=S.SUCCEEDED,
                status_changed_at=earlier,
                created_at=earlier,
                enqueued_at=earlier,
                started_at=earlier,
                finished_at=earlier,
            )
            for _ in range(5100)
        ]
    )
    JobFactory(status=S.FAILED, started_at=now, finished_at=now)
    minutes = staff_client.get("/api/v1/jobs/stats").json()["throughput_per_minute"]
    assert len(minutes) in (60, 61)  # every minute the window touches, zero-filled
    assert sum(m["succeeded"] for m in minutes) == 5100
    assert sum(m["failed"] for m in minutes) == 1
