import pytest

from jobs.audit.models import AuditEntry
from jobs.controls.models import ActorControl, QueueControl

pytestmark = pytest.mark.django_db


def test_list_shows_every_queue(reader_client):
    response = reader_client.get("/api/v1/queues/controls")
    assert response.status_code == 200
    assert {row["queue"] for row in response.json()} >= {"default", "reports"}
    assert reader_client.get("/api/v1/queues/default/control").json()["paused"] is False


def test_pause_resume_through_the_api_are_audited(staff_client, staff_user):
    response = staff_client.post("/api/v1/queues/reports/pause")
    assert response.status_code == 200 and response.json()["paused"] is True
    assert staff_client.post("/api/v1/queues/reports/resume").json()["paused"] is False
    assert list(AuditEntry.objects.order_by("id").values_list("action", "user_id")) == [
        ("queue.pause", staff_user.pk),
        ("queue.resume", staff_user.pk),
    ]


def test_readers_may_not_change_controls(reader_client):
    assert reader_client.post("/api/v1/queues/reports/pause").status_code == 403
    assert reader_client.post("/api/v1/actors/echo/limits", {"rate_limit": 1}, format="json").status_code == 403
    assert not QueueControl.objects.exists() and not ActorControl.objects.exists()


def test_limits_change_and_null_removes(staff_client):
    url = "/api/v1/queues/scans/limits"
    body = staff_client.post(url, {"max_concurrency": 3, "rate_limit": 20, "rate_period": 2.5}, format="json").json()
    assert (body["max_concurrency"], body["rate_limit"], body["rate_period"]) == (3, 20, 2.5)
    body = staff_client.post(url, {"max_concurrency": None}, format="json").json()
    assert body["max_concurrency"] is None and body["rate_limit"] == 20


@pytest.mark.parametrize(
    "body", [{"max_concurrency": 0}, {"rate_limit": "5"}, {"rate_period": True}, {"bogus": 1}, {"ready_window": 1.5}]
)
def test_bad_limits_get_the_one_error_shape(staff_client, body):
    response = staff_client.post("/api/v1/queues/scans/limits", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert not QueueControl.objects.exists()


def test_unknown_queue_and_actor_are_404(staff_client):
    assert staff_client.post("/api/v1/queues/nope/pause").status_code == 404
    assert staff_client.post("/api/v1/queues/nope/limits", {"rate_limit": 1}, format="json").status_code == 404
    assert staff_client.get("/api/v1/queues/nope/control").status_code == 404
    assert staff_client.post("/api/v1/actors/nope/limits", {"rate_limit": 1}, format="json").status_code == 404


def test_actor_limits(staff_client, reader_client):
    response = staff_client.post("/api/v1/actors/echo/limits", {"max_concurrency": 2}, format="json")
    assert response.status_code == 200 and response.json()["max_concurrency"] == 2
    rows = {row["actor"]: row for row in reader_client.get("/api/v1/actors/controls").json()}
    assert rows["echo"]["max_concurrency"] == 2 and rows["echo"]["rate_limit"] is None


def test_the_schema_documents_every_control_operation(staff_client):
    schema = staff_client.get("/api/schema/?format=json").json()
    limits = schema["paths"]["/api/v1/queues/{queue_name}/limits"]["post"]
    assert {"200", "400", "403", "404"} <= set(limits["responses"])
    assert "/api/v1/actors/{actor_name}/limits" in schema["paths"]
    assert "/api/v1/queues/controls" in schema["paths"]
