"""Who may do what: every URL of the project × anonymous, non-staff session, non-staff token, staff.

ROWS is the table; add a row when you add a URL. ``test_every_url_is_in_the_table`` walks the URL
resolver and fails, naming the URL, when one has no row (the Django admin is left to its own
permission system, with the rows at the end for its doors).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs.models import JobStatus
from jobs.scheduling.models import Schedule
from reports import files
from reports.models import Report, ReportStatus
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "reader_session", "reader_token", "staff")
STATUS_CSV = b"store_id,status,timestamp_utc\n1,active,2023-01-23 10:00:00 UTC\n"


@dataclass(frozen=True)
class Row:
    """One URL and method, and the status each role gets.

    ``reader`` applies to the non-staff user by session and by token on the API; on pages a token
    opens nothing, so the token user gets what ``anonymous`` gets there.
    """

    name: str
    method: str
    anonymous: int
    reader: int
    staff: int
    kwargs: Callable[[dict], dict] = field(default=lambda objects: {})
    data: Callable[[dict], dict] | None = None
    query: Callable[[dict], dict] | None = None
    multipart: bool = False

    @property
    def page(self) -> bool:
        return not self.name.startswith("api:") and self.name not in ("schema",)

    def expected(self, role: str) -> int:
        if role == "anonymous" or (role == "reader_token" and self.page):
            return self.anonymous
        return self.staff if role == "staff" else self.reader

    def __str__(self) -> str:
        return f"{self.method} {self.name}"


def job(objects):
    return {"job_id": objects["failed_job"].pk}


def waiting_job(objects):
    return {"job_id": objects["queued_job"].pk}


def schedule(objects):
    return {"schedule_id": objects["schedule"].pk}


def report(objects):
    return {"report_id": objects["report"].pk}


def worker(objects):
    from jobs.models import Worker

    row, _ = Worker.objects.get_or_create(id="matrix:1:aa/2", defaults={"hostname": "matrix", "pid": 2})
    return {"worker_id": row.pk}


def upload(objects):
    handle = io.BytesIO(STATUS_CSV)
    handle.name = "store_status.csv"
    return {"store_status": handle}


NEW_SCHEDULE = {"name": "matrix", "actor": "echo", "interval_seconds": 60}

ROWS = [
    # --- Unauthenticated doors ---
    Row("healthz", "get", 200, 200, 200),
    Row("favicon", "get", 302, 302, 302),
    Row("api:health", "get", 503, 503, 503),  # no worker runs in these tests: readiness says so
    Row("jobs:login", "get", 200, 200, 200),
    Row("jobs:logout", "post", 302, 302, 302),
    # --- API reads: any signed-in user ---
    Row("schema", "get", 401, 200, 200),
    Row("api:job-list", "get", 401, 200, 200),
    Row("api:job-detail", "get", 401, 200, 200, kwargs=job),
    Row("api:job-stats", "get", 401, 200, 200),
    Row("api:queue-list", "get", 401, 200, 200),
    Row("api:worker-list", "get", 401, 200, 200),
    Row("api:actor-list", "get", 401, 200, 200),
    Row("api:schedule-list", "get", 401, 200, 200),
    Row("api:schedule-detail", "get", 401, 200, 200, kwargs=schedule),
    Row("api:schedule-runs", "get", 401, 200, 200, kwargs=schedule),
    Row("api:report-list", "get", 401, 200, 200),
    # Reports belong to who requested them (staff here); staff read all: others get 404.
    Row("api:report-status", "get", 401, 404, 200, query=lambda o: {"report_id": o["report"].pk}),
    Row("api:report-download", "get", 401, 404, 200, kwargs=report),
    Row("api:report-metadata", "get", 401, 404, 200, kwargs=report),
    # --- API writes: staff only ---
    Row("api:job-list", "post", 401, 403, 201, data=lambda o: {"actor": "echo", "args": [1]}),
    Row("api:job-cancel", "post", 401, 403, 200, kwargs=waiting_job),
    Row("api:job-retry", "post", 401, 403, 200, kwargs=job),
    Row("api:job-bulk-retry", "post", 401, 403, 200, data=lambda o: {"actor": "echo"}),
    Row("api:job-purge", "post", 401, 403, 200, data=lambda o: {"actor": "echo"}),
    Row("api:schedule-list", "post", 401, 403, 201, data=lambda o: NEW_SCHEDULE),
    Row("api:schedule-detail", "patch", 401, 403, 200, kwargs=schedule, data=lambda o: {"priority": 5}),
    Row("api:schedule-detail", "delete", 401, 403, 204, kwargs=schedule),
    Row("api:schedule-pause", "post", 401, 403, 200, kwargs=schedule),
    Row("api:schedule-resume", "post", 401, 403, 200, kwargs=schedule),
    Row("api:schedule-run", "post", 401, 403, 201, kwargs=schedule),
    Row("api:report-trigger", "post", 401, 403, 202, data=lambda o: {}),
    Row("api:report-store-data", "post", 401, 403, 200, data=upload, multipart=True),
    # --- Pages: sign-in first (302 to the login page), then read-only for non-staff ---
    Row("api-docs", "get", 302, 200, 200),
    Row("jobs:overview", "get", 302, 200, 200),
    Row("jobs:list", "get", 302, 200, 200),
    Row("jobs:detail", "get", 302, 200, 200, kwargs=job),
    Row("jobs:dead_letters", "get", 302, 200, 200),
    Row("jobs:schedules", "get", 302, 200, 200),
    Row("jobs:workers", "get", 302, 200, 200),
    Row("jobs:health", "get", 302, 200, 200),
    Row("reports:list", "get", 302, 200, 200),
    Row("reports:detail", "get", 302, 404, 200, kwargs=report),
    # --- Dashboard actions: staff only (403 for readers), each a POST that redirects back ---
    Row("jobs:bulk", "post", 302, 403, 302, data=lambda o: {"action": "cancel", "ids": [o["queued_job"].pk]}),
    Row("jobs:retry", "post", 302, 403, 302, kwargs=job),
    Row("jobs:cancel", "post", 302, 403, 302, kwargs=waiting_job),
    Row("jobs:dead_letters_action", "post", 302, 403, 302, data=lambda o: {"action": "retry", "scope": "all"}),
    Row("jobs:schedule_action", "post", 302, 403, 302, kwargs=schedule, data=lambda o: {"action": "pause"}),
    Row("reports:trigger", "post", 302, 403, 302, data=lambda o: {"kind": "store_uptime"}),
    # --- The Django admin's doors (inside, its own permissions apply): staff only ---
    Row("admin:index", "get", 302, 302, 200),
    # --- Observability: worker detail and actor usage (reads); /metrics for staff or its bearer token ---
    Row("api:worker-detail", "get", 401, 200, 200, kwargs=worker),
    Row("api:actor-usage", "get", 401, 200, 200),
    Row("observability:worker_detail", "get", 302, 200, 200, kwargs=worker),
    Row("observability:actors", "get", 302, 200, 200),
    Row("observability:metrics", "get", 401, 403, 200),
    Row("admin:login", "get", 200, 200, 302),  # a non-staff user is told to sign in as staff
]
# Every dashboard action is a POST: a GET of one is 405 (nothing changes on a link or a prefetch).
GET_REFUSED = ["jobs:bulk", "jobs:retry", "jobs:cancel", "jobs:dead_letters_action", "jobs:schedule_action"]


def complete_report(user) -> Report:
    """A COMPLETE report of ``user`` with its two files, without computing one (fast, per test)."""
    report = Report.objects.create(requested_by=user, status=ReportStatus.COMPLETE, row_count=1)
    csv_name, json_name = files.file_names(kind=report.kind, report_id=report.id)
    files.write_csv(csv_name, ["store_id"], [["1"]])
    files.write_json(json_name, {"report_id": str(report.id)})
    Report.objects.filter(pk=report.pk).update(csv_file=csv_name, metadata_file=json_name)
    report.refresh_from_db()
    return report


@pytest.fixture
def objects(staff_user, db):
    report = complete_report(staff_user)
    return {
        "failed_job": JobFactory(status=JobStatus.FAILED, actor_name="echo", error_type="KeyError"),
        "queued_job": JobFactory(status=JobStatus.QUEUED, actor_name="echo"),
        "schedule": Schedule.objects.create(name="matrix-existing", actor_name="echo", interval_seconds=60),
        "report": report,
    }


def client_for(role: str, reader_user, staff_user):
    if role == "anonymous":
        return APIClient()
    if role == "reader_token":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=reader_user).key}")
        return client
    client = APIClient()  # a session, as a browser has (CSRF is tested on its own below)
    client.force_login(staff_user if role == "staff" else reader_user)
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", ROWS, ids=str)
def test_each_role_gets_the_expected_answer(row, role, objects, reader_user, staff_user, settings):
    settings.AXES_ENABLED = True
    client = client_for(role, reader_user, staff_user)
    url = reverse(row.name, kwargs=row.kwargs(objects))
    options = {}
    if row.query:
        options["data"] = row.query(objects)
    elif row.data:
        options["data"] = row.data(objects)
        options["format"] = "multipart" if row.multipart or row.page else "json"
    response = getattr(client, row.method)(url, **options)
    expected = row.expected(role)
    assert response.status_code == expected, f"{row} as {role}: {response.status_code}, not {expected}"
    if expected == 302 and row.page and role in ("anonymous", "reader_token") and row.name.startswith("jobs:"):
        if row.name not in ("jobs:logout",):
            assert response["Location"].startswith(reverse("jobs:login"))
    if row.name.startswith("api:") and 400 <= response.status_code < 500:
        assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("name", GET_REFUSED)
def test_dashboard_actions_refuse_get(staff_browser, objects, name):
    row = next(r for r in ROWS if r.name == name)
    assert staff_browser.get(reverse(name, kwargs=row.kwargs(objects))).status_code == 405


def test_dashboard_actions_need_the_csrf_token(staff_user, objects):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(reverse("jobs:cancel", kwargs=waiting_job(objects)))
    assert response.status_code == 403
    objects["queued_job"].refresh_from_db()
    assert objects["queued_job"].status == JobStatus.QUEUED


def _url_names(resolver, namespace=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            if pattern.namespace == "admin":
                continue  # Django's admin: its doors are in the table, its inside is its own
            yield from _url_names(pattern, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}" if pattern.name else f"(unnamed) {pattern.pattern}"


def test_every_url_is_in_the_table():
    covered = {row.name for row in ROWS}
    missing = sorted(set(_url_names(get_resolver())) - covered)
    assert not missing, (
        f"URLs without a row in tests/test_authorization_matrix.py ROWS: {missing}. "
        "Add a row per method saying what anonymous, non-staff and staff users get."
    )
