import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.audit.models import AuditEntry
from jobs.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(staff_user):
    audit_record(user=staff_user, action="job.retry", target_type="job", target_id="a")
    audit_record(user=staff_user, action="job.cancel", target_type="job", target_id="b")
    old = audit_record(user=None, action="jobs.prune", target_type="retention", target_id="7", count=40)
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=3))
    return AuditEntry.objects.all()


def test_the_audit_api_filters_and_pages(staff_client, entries):
    body = staff_client.get("/api/v1/audit", {"page_size": 2}).json()
    assert [e["action"] for e in body["results"]] == ["job.cancel", "job.retry"]
    older = staff_client.get(body["next"]).json()
    assert [(e["action"], e["user"], e["count"]) for e in older["results"]] == [("jobs.prune", "", 40)]
    assert [e["target_id"] for e in staff_client.get("/api/v1/audit", {"action": "job.retry"}).json()["results"]] == [
        "a"
    ]
    assert len(staff_client.get("/api/v1/audit", {"user": "staff"}).json()["results"]) == 2
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(staff_client.get("/api/v1/audit", {"since": since}).json()["results"]) == 2
    assert staff_client.get("/api/v1/audit", {"action": ""}).status_code == 400  # never widened


def test_the_audit_export_is_csv_of_the_same_filter(staff_client, entries):
    response = staff_client.get("/api/v1/audit.csv", {"target_type": "job"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["action"] for r in rows) == ["job.cancel", "job.retry"]
    assert rows[0]["user"] == "staff"


def test_readers_may_not_read_the_audit_trail(reader_client, reader_browser, entries):
    assert reader_client.get("/api/v1/audit").status_code == 403
    assert reader_browser.get("/audit/").status_code == 403


def test_the_audit_page_filters(staff_browser, entries):
    page = staff_browser.get("/audit/", {"action": "jobs.prune"}).content.decode()
    assert "jobs.prune" in page and "(platform)" in page and "job.cancel</code>" not in page
