"""Bad input the jobs probe found: each a 400/404/409 in the one error shape, nothing changed, never a 500."""

import base64

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.alerts.models import AlertRule
from jobs.audit.models import AuditEntry
from jobs.bulk.services import jobs_bulk_submit
from jobs.errors import ValidationFailed
from jobs.models import Job, JobStatus
from jobs.scheduling.models import Schedule
from jobs.search import parse
from reports.models import Report
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db
S = JobStatus


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def cursor_of(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


# --- 1. A blank search is no criterion for a destructive bulk action --------------------------------


@pytest.mark.parametrize("action", ["cancel", "delete"])
@pytest.mark.parametrize("search", [" ", "\t", "  \n "])
def test_a_blank_bulk_search_is_refused_and_acts_on_no_job(staff_client, action, search):
    JobFactory(status=S.QUEUED)
    JobFactory(status=S.SUCCEEDED, finished_at=timezone.now())
    before = Job.objects.count()
    response = staff_client.post("/api/v1/jobs/bulk", {"action": action, "filter": {"search": search}}, format="json")
    error = error_of(response, 400)
    assert error["details"]["field"] == "filter" and "search" in error["details"]["reason"]
    assert Job.objects.count() == before and not Job.objects.filter(actor_name="jobs.bulk").exists()


@pytest.mark.parametrize("action", ["cancel", "delete"])
def test_the_bulk_service_takes_a_blank_search_for_no_criterion(action):
    with pytest.raises(ValidationFailed) as refused:
        jobs_bulk_submit(action=action, filters={"search": " \t"})
    assert refused.value.details == {"field": "filter"}
    assert not Job.objects.exists()


# --- 2. Unknown fields are refused where a typo would widen or silently drop an edit ----------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/jobs/purge", {"actor_name": "echo"}, "actor_name"),
        ("/api/v1/jobs/retry", {"actors": "echo"}, "actors"),
        ("/api/v1/jobs/retry", {"actor": "echo", "error": "X"}, "error"),
    ],
)
def test_purge_and_retry_refuse_a_field_they_do_not_know(staff_client, path, body, field):
    JobFactory(status=S.FAILED, actor_name="echo", finished_at=timezone.now())
    JobFactory(status=S.FAILED, actor_name="noop", finished_at=timezone.now())
    audits = AuditEntry.objects.count()
    assert error_of(staff_client.post(path, body, format="json"), 400)["details"]["field"] == field
    assert Job.objects.filter(status=S.FAILED).count() == 2 and AuditEntry.objects.count() == audits


def test_purge_and_retry_still_take_their_own_fields(staff_client):
    JobFactory(status=S.FAILED, actor_name="echo", finished_at=timezone.now())
    JobFactory(status=S.FAILED, actor_name="noop", finished_at=timezone.now())
    assert staff_client.post("/api/v1/jobs/retry", {"actor": "noop"}, format="json").json() == {"retried": 1}
    assert staff_client.post("/api/v1/jobs/purge", {"actor": "echo"}, format="json").json() == {"purged": 1}


def test_a_bulk_request_refuses_a_misspelt_filter(staff_client):
    JobFactory(status=S.FAILED, actor_name="echo", finished_at=timezone.now())
    body = {"action": "retry", "filters": {"actor": "noop"}}
    assert error_of(staff_client.post("/api/v1/jobs/bulk", body, format="json"), 400)["details"]["field"] == "filters"
    assert not Job.objects.filter(actor_name="jobs.bulk").exists()


@pytest.mark.parametrize("body", [{"id": 5}, {"intervl_seconds": 5}, {"cron": "0 * * * *", "next_run_at": None}])
def test_a_schedule_edit_refuses_a_field_it_does_not_know(staff_client, body):
    schedule_id = staff_client.post(
        "/api/v1/schedules", {"name": "p", "actor": "echo", "interval_seconds": 60}, format="json"
    ).json()["id"]
    error = error_of(staff_client.patch(f"/api/v1/schedules/{schedule_id}", body, format="json"), 400)
    assert error["details"]["field"] == sorted(set(body) - {"cron"})[0]
    schedule = Schedule.objects.get(pk=schedule_id)
    assert (schedule.interval_seconds, schedule.cron) == (60, "")


@pytest.mark.parametrize("body", [{"name": "renamed"}, {"kind": "no_worker"}, {"enabled": False, "id": 1}])
def test_an_alert_rule_edit_refuses_a_field_it_does_not_know(staff_client, body):
    rule = AlertRule.objects.create(
        name="probe-failures",
        kind="failure_rate",
        parameters={"threshold_percent": 50, "window_minutes": 15, "min_jobs": 10},
    )
    audits = AuditEntry.objects.count()
    error = error_of(staff_client.patch(f"/api/v1/alert-rules/{rule.pk}", body, format="json"), 400)
    assert error["details"]["field"] == sorted(set(body) - {"enabled"})[0]
    rule.refresh_from_db()
    assert (rule.name, rule.kind, rule.enabled) == ("probe-failures", "failure_rate", True)
    assert AuditEntry.objects.count() == audits


def test_the_schema_says_these_bodies_take_no_other_field(staff_client):
    schemas = staff_client.get("/api/schema/?format=json").json()["components"]["schemas"]
    names = ("JobPurgeInputRequest", "JobBulkRetryInputRequest", "ScheduleInputRequest", "PatchedScheduleInputRequest")
    for name in (*names, "BulkInputRequest", "BulkFilterInputRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["PatchedAlertRuleInputRequest"]["additionalProperties"] is False


# --- 3. A cursor whose position PostgreSQL cannot take -----------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/reports", "/api/v1/audit", "/api/v1/alerts"])
@pytest.mark.parametrize("position", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"])
def test_a_cursor_out_of_range_in_utc_is_an_invalid_cursor(staff_client, path, position):
    JobFactory()
    error = error_of(staff_client.get(path, {"cursor": cursor_of(f"p={position}")}), 404)
    assert error["code"] == "invalid_cursor"


def test_a_cursor_with_any_offset_in_range_still_pages(staff_client):
    jobs = [JobFactory() for _ in range(3)]
    newest = max(jobs, key=lambda job: (job.created_at, job.pk))
    # The newest job's time, written with a -23:59 offset: the same instant.
    shifted = newest.created_at.astimezone(timezone.get_fixed_timezone(-(23 * 60 + 59))).isoformat()
    body = staff_client.get("/api/v1/jobs", {"cursor": cursor_of(f"p={shifted}")}).json()
    assert len(body["results"]) == 2


# --- 4. key:value search with a value PostgreSQL's jsonb cannot hold ---------------------------------


@pytest.mark.parametrize(
    "term", ["k:1e999", "k:-1e999", "k:NaN", "k:Infinity", "k:-Infinity", 'k:"\\u0000"', 'k:"\\ud800"',
             'k:{"\\u0000": 1}', 'k:{"\\udfff": 1}', "k:[1, NaN]", 'k:{"a": [1e400]}'],
)  # fmt: skip
@pytest.mark.parametrize("status", [None, "failed"])
def test_a_search_value_jsonb_cannot_hold_is_taken_as_text(reader_client, term, status):
    JobFactory(status=S.FAILED, kwargs={"k": 1})
    query = {"search": term, **({"status": status} if status else {})}
    response = reader_client.get("/api/v1/jobs", query)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["results"] == []
    assert parse(term).value == term[2:]


def test_a_search_value_jsonb_holds_is_still_json():
    assert parse("k:1").value == 1 and parse('k:{"a": [1.5, "x"]}').value == {"a": [1.5, "x"]}


def test_a_bulk_filter_with_such_a_search_runs_in_the_worker(staff_client):
    from jobs.bulk.services import jobs_bulk_apply

    JobFactory(status=S.QUEUED, kwargs={"k": 1})
    response = staff_client.post(
        "/api/v1/jobs/bulk", {"action": "cancel", "filter": {"search": "k:NaN"}}, format="json"
    )
    bulk = Job.objects.get(pk=response.json()["id"])
    assert jobs_bulk_apply(bulk_job_id=bulk.pk, **bulk.kwargs)["changed"] == 0


# --- 5. Report periods at the ends of the calendar ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "task_execution", "until": "0001-01-01T00:00:00Z"}, "until"),
        ({"kind": "task_execution", "until": "0001-01-01T12:00:00+00:00"}, "until"),
        ({"kind": "task_execution", "since": "9999-12-31T23:59:59Z"}, "since"),
    ],
)
def test_a_report_period_off_the_calendar_is_400(staff_client, body, field):
    error = error_of(staff_client.post("/api/v1/reports/trigger", body, format="json"), 400)
    assert error["details"]["field"] == field
    assert not Report.objects.exists() and not Job.objects.exists()


def test_the_report_service_refuses_an_instant_off_the_calendar_in_utc():
    from reports.services import report_request

    for parameters, field in [
        ({"until": "0001-01-01T00:00:00+01:00"}, "until"),
        ({"since": "9999-12-31T23:00:00-23:00", "until": "9999-12-31T23:00:00Z"}, "since"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            report_request(kind="task_execution", parameters=parameters)
        assert refused.value.details == {"field": field}
    assert not Report.objects.exists()


def test_a_report_at_the_start_of_the_calendar_is_still_taken(staff_client):
    body = {"kind": "task_execution", "since": "0001-01-01T00:00:00Z", "until": "0001-01-02T00:00:00Z"}
    assert staff_client.post("/api/v1/reports/trigger", body, format="json").status_code == 202


# --- 6. NUL in a path or a token ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/workers/%00", "/api/v1/workers/a%00b"])
def test_a_worker_id_with_nul_is_404(staff_client, path):
    error_of(staff_client.get(path), 404)


def test_the_worker_page_with_nul_is_404(staff_user):
    browser = Client()
    browser.force_login(staff_user)
    assert browser.get("/workers/%00/").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/v1/queues/%00/control", "/api/v1/actors/%00/limits", "/api/v1/jobs/%00", "/api/v1/reports/%00/metadata"],
)
def test_other_names_in_paths_with_nul_are_404(staff_client, path):
    response = staff_client.post(path, {}, format="json") if "limits" in path else staff_client.get(path)
    error_of(response, 404)


@pytest.mark.parametrize("token", ["\x00", "a\x00b", "\x00" * 40])
def test_a_token_with_nul_is_401(db, token):
    client = APIClient()
    assert error_of(client.get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Token {token}"), 401)["code"]


# --- 7. A naive eta of any length ------------------------------------------------------------------


@pytest.mark.parametrize(
    "eta",
    ["2030-01-01T00:00:00." + "0" * 60, "2030-01-01T00:00:00.000000" + "0" * 60, " " * 60 + "2030-01-01T00:00:00"],
)
def test_a_long_naive_eta_is_refused(staff_client, eta):
    error_of(staff_client.post("/api/v1/jobs", {"actor": "echo", "eta": eta}, format="json"), 400)
    assert not Job.objects.exists()


def test_a_long_naive_time_in_a_bulk_filter_is_refused(staff_client):
    body = {"action": "retry", "filter": {"created_after": "2030-01-01T00:00:00." + "0" * 60}}
    error = error_of(staff_client.post("/api/v1/jobs/bulk", body, format="json"), 400)
    assert error["details"]["field"] == "filter"
    assert not Job.objects.exists()


# --- 8. Cancel of a finished job -------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.CANCELLED, S.SUCCEEDED, S.FAILED])
def test_cancel_of_a_finished_job_is_409_and_audits_nothing(staff_client, status):
    job = JobFactory(status=status, finished_at=timezone.now())
    for _ in range(2):
        assert error_of(staff_client.post(f"/api/v1/jobs/{job.pk}/cancel"), 409)["code"] == "invalid_transition"
    assert not AuditEntry.objects.filter(action="job.cancel").exists()
    job.refresh_from_db()
    assert job.status == status


def test_cancel_twice_cancels_once_and_audits_once(staff_client):
    job = JobFactory(status=S.QUEUED)
    assert staff_client.post(f"/api/v1/jobs/{job.pk}/cancel").json()["status"] == S.CANCELLED
    error_of(staff_client.post(f"/api/v1/jobs/{job.pk}/cancel"), 409)
    assert AuditEntry.objects.filter(action="job.cancel").count() == 1


def test_a_second_cancel_of_a_running_job_asks_once(staff_client):
    job = JobFactory(status=S.RUNNING, started_at=timezone.now())
    first = staff_client.post(f"/api/v1/jobs/{job.pk}/cancel").json()
    second = staff_client.post(f"/api/v1/jobs/{job.pk}/cancel")
    # Not finished: the stop it asked for is still coming, so 200 again, with the same request time.
    assert second.status_code == 200 and second.json()["cancel_requested_at"] == first["cancel_requested_at"]
    assert AuditEntry.objects.filter(action="job.cancel").count() == 1


# --- A refusal that repeats a lone surrogate of the input still encodes (a 400, not a 500) -----------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/jobs", '{"actor": "echo", "queue": "\\ud800"}'),
        ("post", "/api/v1/jobs/bulk", '{"action": "\\ud800"}'),
        ("post", "/api/v1/jobs/bulk", '{"action": "cancel", "filter": {"\\ud800": 1}}'),
        ("post", "/api/v1/jobs/bulk", '{"action": "cancel", "filter": {"status": ["\\ud800"]}}'),
        ("post", "/api/v1/queues/default/limits", '{"\\ud800": 1}'),
        ("post", "/api/v1/schedules", '{"name": "x", "actor": "echo", "interval_seconds": 60, "overlap": "\\ud800"}'),
        ("post", "/api/v1/reports/trigger", '{"kind": "\\ud800"}'),
    ],
)
def test_a_refusal_echoing_a_lone_surrogate_is_a_400(staff_client, method, path, body):
    counts = (Job.objects.count(), Schedule.objects.count(), Report.objects.count())
    response = getattr(staff_client, method)(path, data=body.encode(), content_type="application/json")
    error_of(response, 400)
    assert (Job.objects.count(), Schedule.objects.count(), Report.objects.count()) == counts
