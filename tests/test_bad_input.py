"""Every bad input of issue 12, through the API: a 400/404/409/413 in the one error shape, nothing written."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.scheduling.models import Schedule
from reports.models import Report
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db
S = JobStatus


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def raw_json(client, path: str, text: str):
    return client.post(path, data=text, content_type="application/json")


def cursor_of(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/reports"])
@pytest.mark.parametrize("query", ["p=notadate", "p=2026-01-01T00:00:00", "o=-1", "r=x"])
def test_tampered_cursors_are_404_not_500(reader_client, path, query):
    JobFactory()
    error = error_of(reader_client.get(path, {"cursor": cursor_of(query)}), 404)
    assert error["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "body",
    [
        '{"actor": "echo", "args": ["a\\u0000b"]}',
        '{"actor": "echo", "kwargs": {"k": "\\ud800"}}',
        '{"actor": "echo", "kwargs": {"\\u0000": 1}}',
        '{"actor": "echo", "args": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"actor": "echo", "args": ' + "[" * 40 + "]" * 40 + "}",
    ],
)
def test_payloads_postgresql_cannot_store_or_python_cannot_nest_are_400(staff_client, body):
    error = error_of(raw_json(staff_client, "/api/v1/jobs", body), 400)
    assert error["code"] in ("invalid_payload", "parse_error")
    assert not Job.objects.exists()


def test_a_json_body_nested_deeper_than_100_levels_is_400_before_any_serializer_sees_it(staff_client):
    """Serializers and JSON encoders recurse: 900 levels the parser follows can be a RecursionError later."""
    body = '{"actor": "echo", "args": %s}'
    deep_enough = error_of(raw_json(staff_client, "/api/v1/jobs", body % ("[" * 99 + "]" * 99)), 400)
    assert deep_enough["code"] == "invalid_payload"  # the job's own limit
    too_deep = error_of(raw_json(staff_client, "/api/v1/jobs", body % ("[" * 100 + "]" * 100)), 400)
    assert too_deep["code"] == "parse_error" and "deeper than 100 levels" in too_deep["message"]
    assert not Job.objects.exists()


def test_a_json_body_over_the_limit_is_413_in_the_error_shape(staff_client, settings):
    settings.API_MAX_JSON_BYTES = 1000
    error = error_of(raw_json(staff_client, "/api/v1/jobs", json.dumps({"actor": "echo", "args": ["x" * 2000]})), 413)
    assert error["code"] == "payload_too_large"
    assert not Job.objects.exists()


def test_a_six_megabyte_body_is_413_not_an_html_page(staff_client):
    response = raw_json(staff_client, "/api/v1/jobs", json.dumps({"actor": "echo", "args": ["x" * 6_000_000]}))
    assert error_of(response, 413)["code"] == "payload_too_large"


def test_form_encoded_bodies_are_415(staff_client):
    response = staff_client.post("/api/v1/jobs/purge", {"created_before": ""}, format="multipart")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", ["/api/v1/jobs/retry", "/api/v1/jobs/purge"])
@pytest.mark.parametrize("value", ["", None, 0])
def test_an_empty_created_before_never_widens_a_destructive_filter(staff_client, path, value):
    dead = JobFactory(status=S.FAILED, created_at=timezone.now() - timedelta(days=2))
    error = error_of(staff_client.post(path, {"created_before": value}, format="json"), 400)
    assert error["details"]["field"] == "created_before"
    assert Job.objects.get(pk=dead.pk).status == S.FAILED


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/reports", {"kind": "AAA"}, "kind"),
        ("/api/v1/jobs/stats", {"window_minutes": "null"}, "window_minutes"),
        ("/api/v1/jobs/stats", {"window_minutes": "0"}, "window_minutes"),
        ("/api/v1/jobs/stats", {"window_minutes": ""}, "window_minutes"),
        ("/api/v1/jobs", {"page_size": "abc"}, "page_size"),
        ("/api/v1/jobs", {"status": "bogus"}, "status"),
        ("/api/v1/jobs", {"created_after": "2026-01-01T00:00:00"}, "created_after"),
        ("/api/v1/reports/status", {"report_id": "not-a-uuid"}, "report_id"),
    ],
)
def test_invalid_query_values_are_400_not_ignored(reader_client, path, query, field):
    assert error_of(reader_client.get(path, query), 400)["details"]["field"] == field


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"actor": "jobs.prune", "kwargs": {"older_than_days": -1}}, "internal_actor"),
        ({"actor": "jobs.recover"}, "internal_actor"),
        ({"actor": "reports.generate_store_report", "args": ["x"]}, "internal_actor"),
        ({"actor": "countdown", "args": ["ten"]}, "invalid_arguments"),
        ({"actor": "noop", "args": [1]}, "invalid_arguments"),
        ({"actor": "countdown", "kwargs": {"minutes": 1}}, "invalid_arguments"),
        ({"actor": "echo", "eta": "2030-01-01T00:00:00"}, "invalid"),
        ({"actor": "echo", "priority": 101}, "invalid"),
        ({"actor": "echo", "priority": "5"}, "invalid"),
        ({"actor": "echo", "idempotency_key": 0}, "invalid"),
        ({"actor": "echo", "queue": "nope"}, "invalid"),
    ],
)
def test_submissions_are_checked_against_the_actor_before_anything_is_written(staff_client, payload, code):
    before = Job.objects.count()
    assert error_of(staff_client.post("/api/v1/jobs", payload, format="json"), 400)["code"] == code
    assert Job.objects.count() == before


def test_the_prune_schedule_keeps_its_arguments_but_may_be_retimed(staff_client):
    prune = Schedule.objects.get(name="Prune old jobs")
    url = f"/api/v1/schedules/{prune.pk}"
    refused = staff_client.patch(url, {"kwargs": {"older_than_days": -1}}, format="json")
    assert error_of(refused, 400)["details"]["field"] == "kwargs"
    assert staff_client.patch(url, {"cron": "0 4 * * *"}, format="json").status_code == 200
    prune.refresh_from_db()
    assert (prune.kwargs, prune.cron) == ({}, "0 4 * * *")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"args": ["\x00"]}, "args"),
        ({"kwargs": {"k": "\ud800"}}, "kwargs"),
        ({"interval_seconds": 10**12}, "interval_seconds"),
        ({"timezone": "America"}, "timezone"),  # a folder of zones: was an IsADirectoryError
        ({"misfire_grace_seconds": 10**12}, "misfire_grace_seconds"),
        ({"priority": 40000}, "priority"),
        ({"actor": "countdown", "args": ["soon"]}, "args"),
        ({"enabled": 0}, "enabled"),
    ],
)
def test_bad_schedules_are_400_and_not_saved(staff_client, fields, field):
    payload = {"name": "bad", "actor": "echo", "interval_seconds": 60, **fields}
    response = staff_client.post("/api/v1/schedules", json.dumps(payload), content_type="application/json")
    error = error_of(response, 400)
    assert error["details"]["field"] == field or error["details"].get("path", "").startswith(field)
    assert not Schedule.objects.filter(name="bad").exists()


def test_a_retry_whose_idempotency_key_is_taken_again_is_409(staff_client):
    old = JobFactory(status=S.CANCELLED, idempotency_key="nightly")
    JobFactory(status=S.QUEUED, idempotency_key="nightly")
    error = error_of(staff_client.post(f"/api/v1/jobs/{old.pk}/retry"), 409)
    assert error["code"] == "idempotency_key_taken"
    bulk = staff_client.post("/api/v1/jobs/retry", {"status": "cancelled"}, format="json")
    assert bulk.status_code == 200 and bulk.json() == {"retried": 0}
    assert Job.objects.get(pk=old.pk).status == S.CANCELLED


def test_two_dead_jobs_sharing_a_key_retry_once_in_bulk(staff_client):
    JobFactory(status=S.FAILED, idempotency_key="k", created_at=timezone.now() - timedelta(minutes=5))
    newer = JobFactory(status=S.FAILED, idempotency_key="k")
    assert staff_client.post("/api/v1/jobs/retry", {}, format="json").json() == {"retried": 1}
    assert Job.objects.get(pk=newer.pk).status == S.PENDING


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"store_id,status,timestamp_utc\nab\x00c,active,2023-01-23 10:00:00 UTC\n", "NUL byte"),
        (b'store_id,status,timestamp_utc\n1,"active,2023-01-23 10:00:00 UTC\n', "unterminated quote"),
        (b"store_id,status,timestamp_utc\n" + b"x" * 5000 + b"\n", "longer than 4096 bytes"),
        (b",".join(b"c%d" % i for i in range(40)) + b"\n", "40 columns"),
        (b"store_id,status,timestamp_utc\n1,active,9999-12-31 00:00:00 UTC\n", "timestamp in the future"),
    ],
)
def test_store_data_that_broke_the_upload_is_400(staff_client, content, reason):
    import io

    upload = io.BytesIO(content)
    upload.name = "store_status.csv"
    response = staff_client.post("/api/v1/reports/store-data", {"store_status": upload}, format="multipart")
    assert reason in error_of(response, 400)["message"]
    assert not Report.objects.exists()


def test_health_shows_anonymous_callers_the_status_only_and_nobody_the_error_texts(client, reader_client):
    from unittest import mock

    with mock.patch(
        "config.health.system_health",
        return_value={
            "status": "unavailable",
            "checks": {"database": {"ok": False, "detail": 'could not connect to server at "db.internal" (10.0.0.5)'}},
        },
    ):
        anonymous = client.get("/api/v1/health")
        signed_in = reader_client.get("/api/v1/health")
    assert anonymous.status_code == 503 and anonymous.json() == {"status": "unavailable"}
    assert signed_in.json()["checks"]["database"] == {"ok": False, "detail": "unavailable: see the server log"}
    assert b"db.internal" not in signed_in.content


def test_unknown_api_paths_answer_in_the_error_shape(reader_client):
    assert error_of(reader_client.get("/api/v1/no-such-thing"), 404)["code"] == "not_found"
