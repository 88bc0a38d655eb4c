import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import Job, JobStatus
from jobs.scheduling.models import Schedule, ScheduleRun
from tests.factories import JobFactory
from tests.scheduling.factories import ScheduleFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/schedules"


def error_of(response):
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def create(client, **fields):
    payload = {"name": "scan", "actor": "echo", "interval_seconds": 300, **fields}
    return client.post(URL, payload, format="json")


def test_create_then_read_with_the_rule_in_words_and_next_fire_times(staff_client):
    response = create(staff_client, cron="*/5 * * * *", interval_seconds=None, args=[1], queue="maintenance")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["trigger_description"] == "Every 5 minutes"
    assert body["queue"] == "maintenance" and body["args"] == [1] and body["enabled"] is True
    assert len(body["upcoming_fire_times"]) == 5 and body["next_run_at"] is not None
    assert body["last_job"] is None
    detail = staff_client.get(f"{URL}/{body['id']}")
    assert detail.status_code == 200 and detail.json()["upcoming_fire_times"] == body["upcoming_fire_times"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cron": "*/5 * * *", "interval_seconds": None}, "cron"),
        ({"cron": "0 25 * * *", "interval_seconds": None}, "cron"),
        ({"interval_seconds": 0}, "interval_seconds"),
        ({"interval_seconds": -1}, "interval_seconds"),
        ({"timezone": "Atlantis/Capital"}, "timezone"),
    ],
)
def test_bad_rules_are_400_naming_the_field_and_the_reason(staff_client, fields, field):
    response = create(staff_client, **fields)
    assert response.status_code == 400
    error = error_of(response)
    assert error["details"]["field"] == field and error["details"]["reason"]
    assert error["message"].startswith(f"{field}: ")
    assert not Schedule.objects.filter(name="scan").exists()


def test_an_unknown_actor_is_400_listing_the_valid_ones(staff_client):
    response = create(staff_client, actor="no.such.actor")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "unknown_actor"
    assert "echo" in error["details"]["valid_actors"]
    # Internal actors are the platform's: not offered, and refused.
    assert not {"jobs.recover", "jobs.health_check", "jobs.prune"} & set(error["details"]["valid_actors"])
    refused = create(staff_client, actor="jobs.prune", kwargs={"older_than_days": -1})
    assert refused.status_code == 400 and error_of(refused)["code"] == "internal_actor"
    assert not Schedule.objects.filter(name="scan").exists()


def test_a_non_integer_interval_is_400_from_the_serializer(staff_client):
    response = create(staff_client, interval_seconds="soon")
    assert response.status_code == 400 and "interval_seconds" in error_of(response)["message"]


def test_edit_pause_resume_delete(staff_client):
    schedule_id = create(staff_client).json()["id"]
    edited = staff_client.patch(f"{URL}/{schedule_id}", {"cron": "0 * * * *"}, format="json")
    assert edited.status_code == 200, edited.content
    assert (edited.json()["cron"], edited.json()["interval_seconds"]) == ("0 * * * *", None)
    bad = staff_client.patch(f"{URL}/{schedule_id}", {"interval_seconds": 0}, format="json")
    assert bad.status_code == 400 and error_of(bad)["details"]["field"] == "interval_seconds"
    paused = staff_client.post(f"{URL}/{schedule_id}/pause")
    assert paused.status_code == 200 and paused.json()["enabled"] is False and paused.json()["next_run_at"] is None
    resumed = staff_client.post(f"{URL}/{schedule_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["enabled"] is True
    assert staff_client.delete(f"{URL}/{schedule_id}").status_code == 204
    assert staff_client.get(f"{URL}/{schedule_id}").status_code == 404


def test_run_now_submits_a_job_and_the_list_shows_its_status(staff_client):
    schedule_id = create(staff_client, overlap="skip").json()["id"]
    response = staff_client.post(f"{URL}/{schedule_id}/run")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert response.json()["idempotency_key"].startswith(f"schedule:{schedule_id}:")
    assert ScheduleRun.objects.get(job_id=job_id).manual
    listed = {row["id"]: row for row in staff_client.get(URL).json()}
    assert listed[schedule_id]["last_job"]["id"] == job_id
    assert listed[schedule_id]["last_job"]["status"] in (JobStatus.PENDING, JobStatus.QUEUED)
    busy = staff_client.post(f"{URL}/{schedule_id}/run")
    assert busy.status_code == 409 and error_of(busy)["code"] == "schedule_busy"
    runs = staff_client.get(f"{URL}/{schedule_id}/runs").json()
    assert [run["job_id"] for run in runs] == [job_id]


def test_readers_may_read_but_not_write(reader_client):
    schedule = ScheduleFactory()
    assert reader_client.get(URL).status_code == 200
    assert reader_client.get(f"{URL}/{schedule.pk}").status_code == 200
    assert create(reader_client).status_code == 403
    assert reader_client.patch(f"{URL}/{schedule.pk}", {"priority": 1}, format="json").status_code == 403
    assert reader_client.delete(f"{URL}/{schedule.pk}").status_code == 403
    for action in ("pause", "resume", "run"):
        assert reader_client.post(f"{URL}/{schedule.pk}/{action}").status_code == 403
    assert Job.objects.count() == 0


def test_anonymous_users_are_refused(client):
    assert client.get(URL).status_code in (401, 403)


def test_the_list_costs_one_query_however_many_schedules(staff_client):
    for _ in range(5):
        ScheduleFactory(last_job=JobFactory())
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(URL)
    assert response.status_code == 200 and len(response.json()) >= 5
    assert len([q for q in queries.captured_queries if "jobs_schedule" in q["sql"]]) == 1
    assert len([q for q in queries.captured_queries if 'FROM "jobs_job"' in q["sql"]]) == 0
