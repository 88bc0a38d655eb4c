"""The reports API through the project URLs."""

import io
import uuid

import pytest
import yaml
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from jobs.errors import PermanentError
from reports import services
from reports.models import ReportStatus, StorePoll

STATUS_CSV = b"store_id,status,timestamp_utc\n1,active,2023-01-23 10:00:00 UTC\n2,inactive,2023-01-23 10:30:00 UTC\n"
HOURS_CSV = b"store_id,dayOfWeek,start_time_local,end_time_local\n1,0,09:00:00,17:00:00\n"
ZONES_CSV = b"store_id,timezone_str\n1,America/Denver\n"


def upload(name, content):
    handle = io.BytesIO(content)
    handle.name = name
    return handle


def complete_report():
    services.store_data_import(sources={"store_status.csv": io.BytesIO(STATUS_CSV)})
    report = services.report_request()
    services.store_report_generate(report_id=report.id)
    report.refresh_from_db()
    return report


def test_trigger_starts_a_pending_report(staff_client):
    response = staff_client.post("/api/v1/reports/trigger", {}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"report_id", "status", "task_id"}
    assert body["status"] == "PENDING"
    status = staff_client.get("/api/v1/reports/status", {"report_id": body["report_id"]}).json()
    assert status["task_id"] == body["task_id"]
    assert (status["status"], status["url"]) == ("PENDING", None)


def test_trigger_a_task_execution_report_for_a_period(staff_client):
    response = staff_client.post(
        "/api/v1/reports/trigger",
        {"kind": "task_execution", "since": "2023-01-01T00:00:00Z", "until": "2023-01-02T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 202
    listed = staff_client.get("/api/v1/reports").json()["results"][0]
    assert listed["parameters"] == {"since": "2023-01-01T00:00:00+00:00", "until": "2023-01-02T00:00:00+00:00"}


def test_only_staff_may_trigger_and_everyone_must_sign_in(reader_client, db):
    assert reader_client.post("/api/v1/reports/trigger", {}, format="json").status_code == 403
    anonymous = APIClient()
    assert anonymous.post("/api/v1/reports/trigger", {}, format="json").status_code in (401, 403)
    assert anonymous.get("/api/v1/reports").status_code in (401, 403)


def test_status_of_a_complete_report_links_its_csv(staff_client):
    report = complete_report()
    body = staff_client.get("/api/v1/reports/status", {"report_id": str(report.id)}).json()
    assert body["status"] == "COMPLETE"
    assert body["url"] == f"http://testserver/api/v1/reports/{report.id}/download"
    assert body["row_count"] == 2 and body["progress"] == 100


# A fixed id for the random uuid: every xdist worker must collect the same test ids.
@pytest.mark.parametrize(
    "report_id", [pytest.param(str(uuid.uuid4()), id="unknown-uuid"), "not-a-uuid", "../../etc/passwd"]
)
def test_unknown_reports_are_404_and_malformed_ids_400(staff_client, report_id):
    response = staff_client.get("/api/v1/reports/status", {"report_id": report_id})
    malformed = report_id != report_id.strip("./") or "-a-" in report_id
    assert response.status_code == (400 if malformed else 404)
    assert response.json()["error"]["code"] == ("invalid" if malformed else "not_found")
    assert staff_client.get(f"/api/v1/reports/{report_id}/download").status_code == 404


def test_status_needs_a_report_id(reader_client):
    response = reader_client.get("/api/v1/reports/status")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_failed_report_shows_its_reason(staff_client):
    report = services.report_request()
    with pytest.raises(PermanentError):
        services.store_report_generate(report_id=report.id)
    body = staff_client.get("/api/v1/reports/status", {"report_id": str(report.id)}).json()
    assert body["status"] == "FAILED"
    assert "import store_status.csv first" in body["error"]
    response = staff_client.get(f"/api/v1/reports/{report.id}/download")
    assert response.status_code == 409
    assert "import store_status.csv first" in response.json()["error"]["message"]


def test_download_serves_the_csv_to_staff(staff_client):
    report = complete_report()
    response = staff_client.get(f"/api/v1/reports/{report.id}/download")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="store-uptime-report-{report.id}.csv"' in response["Content-Disposition"]
    content = b"".join(response.streaming_content).decode()
    assert content.splitlines()[0].startswith("store_id,uptime_last_hour")
    assert len(content.splitlines()) == 3
    assert APIClient().get(f"/api/v1/reports/{report.id}/download").status_code in (401, 403)
    metadata = staff_client.get(f"/api/v1/reports/{report.id}/metadata")
    assert metadata.status_code == 200
    assert b'"algorithm"' in b"".join(metadata.streaming_content)


def test_download_before_completion_is_409(staff_client, db):
    report = services.report_request()
    response = staff_client.get(f"/api/v1/reports/{report.id}/download")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "report_not_ready"


def test_a_report_whose_file_is_gone_is_404(staff_client, settings):
    report = complete_report()
    (settings.REPORTS_DIR / report.csv_file).unlink()
    assert staff_client.get(f"/api/v1/reports/{report.id}/download").status_code == 404


def test_list_is_newest_first_and_paginated(staff_client, django_assert_max_num_queries):
    ids = [str(services.report_request().id) for _ in range(3)]
    with django_assert_max_num_queries(4):
        body = staff_client.get("/api/v1/reports", {"page_size": 2}).json()
    assert [r["report_id"] for r in body["results"]] == ids[::-1][:2]
    assert body["next"]
    assert body["results"][0]["requested_by"] is None
    assert body["results"][0]["status"] == "PENDING"


def test_upload_imports_the_files(staff_client):
    response = staff_client.post(
        "/api/v1/reports/store-data",
        {
            "store_status": upload("store_status.csv", STATUS_CSV),
            "menu_hours": upload("menu_hours.csv", HOURS_CSV),
            "timezones": upload("timezones.csv", ZONES_CSV),
        },
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    files = {f["file"]: f for f in response.json()["files"]}
    assert files["store_status.csv"]["new_polls"] == 2
    assert StorePoll.objects.count() == 2


def test_upload_rejects_missing_columns_and_bad_rows(staff_client):
    response = staff_client.post(
        "/api/v1/reports/store-data",
        {
            "store_status": upload("s.csv", b"store_id,status\n1,active\n"),
            "timezones": upload("t.csv", ZONES_CSV),
        },
        format="multipart",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "store_status.csv is missing columns: timestamp_utc" in error["message"]
    response = staff_client.post(
        "/api/v1/reports/store-data",
        {"store_status": upload("s.csv", STATUS_CSV + b"3,sleeping,2023-01-23 10:00:00 UTC\n")},
        format="multipart",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]["files"][0]
    assert details["bad_rows"]["rows"] == [{"line": 4, "reason": "unknown status", "value": "sleeping"}]
    assert StorePoll.objects.count() == 0


def test_upload_limits(staff_client, reader_client, settings):
    settings.FILE_UPLOAD_MAX_SIZE = 10
    response = staff_client.post(
        "/api/v1/reports/store-data", {"store_status": upload("s.csv", STATUS_CSV)}, format="multipart"
    )
    assert response.status_code == 413
    response = staff_client.post("/api/v1/reports/store-data", {"orders": upload("o.csv", b"x")}, format="multipart")
    assert response.status_code == 400
    response = reader_client.post(
        "/api/v1/reports/store-data", {"store_status": upload("s.csv", STATUS_CSV)}, format="multipart"
    )
    assert response.status_code == 403


def test_report_status_values_are_the_four_of_the_issue():
    assert [s.value for s in ReportStatus] == ["PENDING", "RUNNING", "COMPLETE", "FAILED"]


def test_the_openapi_schema_has_the_reports_api(staff_client):
    response = staff_client.get("/api/schema/")
    assert response.status_code == 200
    spec = yaml.safe_load(response.content)
    validate(spec)
    assert {
        "/api/v1/reports",
        "/api/v1/reports/trigger",
        "/api/v1/reports/status",
        "/api/v1/reports/{report_id}/download",
        "/api/v1/reports/store-data",
    } <= set(spec["paths"])


def test_reports_belong_to_who_requested_them_and_staff_read_all(staff_user, reader_user, reader_client, staff_client):
    mine = complete_report()
    mine.requested_by = reader_user
    mine.save(update_fields=["requested_by"])
    scheduled = services.report_request()  # no requester: a schedule's
    others = services.report_request(requested_by=staff_user)
    listed = {r["report_id"] for r in reader_client.get("/api/v1/reports").json()["results"]}
    assert listed == {str(mine.id)}
    assert reader_client.get("/api/v1/reports/status", {"report_id": str(mine.id)}).status_code == 200
    assert reader_client.get(f"/api/v1/reports/{mine.id}/download").status_code == 200
    for hidden in (scheduled, others):
        assert reader_client.get("/api/v1/reports/status", {"report_id": str(hidden.id)}).status_code == 404
        assert reader_client.get(f"/api/v1/reports/{hidden.id}/download").status_code == 404
        assert reader_client.get(f"/api/v1/reports/{hidden.id}/metadata").status_code == 404
    everything = {r["report_id"] for r in staff_client.get("/api/v1/reports").json()["results"]}
    assert everything == {str(mine.id), str(scheduled.id), str(others.id)}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"kind": "AAA"}, 400),
        ({"page_size": "0"}, 400),
        ({"page_size": "x"}, 400),
        ({"cursor": "cD1ub3RhZGF0ZQ=="}, 404),
    ],
)
def test_list_refuses_bad_parameters(staff_client, query, status):
    services.report_request()
    response = staff_client.get("/api/v1/reports", query)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "details"}
