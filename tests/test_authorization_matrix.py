"""Who may do what: every URL of the project × anonymous, non-staff session, non-staff token, staff.

ROWS is the table; add a row when you add a URL. ``test_every_url_is_in_the_table`` walks the URL
resolver and fails, naming the URL, when one has no row (the Django admin is left to its own
permission system, with the rows at the end for its doors).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from documents import services as document_services
from jobs.alerts.models import Alert, AlertRule
from jobs.models import JobStatus
from jobs.scheduling.models import Schedule
from monitoring import scans
from monitoring import services as monitoring_services
from monitoring.models import ScanMode, Violation
from reports import files
from reports.models import Report, ReportStatus
from tests.documents.conftest import use_document_storage
from tests.documents.factories import receive
from tests.factories import JobFactory
from tests.monitoring.conftest import load_records, make_policy

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


def alert(objects):
    return {"alert_id": objects["alert"].pk}


def alert_rule(objects):
    return {"rule_id": objects["alert"].rule_id}


def worker(objects):
    from jobs.models import Worker

    row, _ = Worker.objects.get_or_create(id="matrix:1:aa/2", defaults={"hostname": "matrix", "pid": 2})
    return {"worker_id": row.pk}


def upload(objects):
    handle = io.BytesIO(STATUS_CSV)
    handle.name = "store_status.csv"
    return {"store_status": handle}


def policy(objects):
    return {"policy_id": objects["policy"].pk}


def rule(objects):
    return {"rule_id": objects["rule"].pk}


def violation(objects):
    return {"violation_id": objects["violation"].pk}


def resolved_violation(objects):
    return {"violation_id": objects["resolved_violation"].pk}


def waiver(objects):
    return {"waiver_id": objects["waiver"].pk}


def record(objects):
    return {"record_id": objects["record"].pk}


def document(objects):
    return {"document_id": objects["document"].pk}


def batch(objects):
    return {"batch_id": str(objects["batch"].pk)}


def records_upload(objects):
    handle = io.BytesIO(b"id,amount\nm1,5\n")
    handle.name = "records.csv"
    return {"file": handle, "source": "matrix"}


def document_upload(objects):
    handle = io.BytesIO(b"A matrix test document.\n")
    handle.name = "matrix.txt"
    return {"file": handle}


def new_waiver(objects):
    expires = (timezone.now() + timedelta(days=7)).isoformat()
    return {"policy_id": objects["policy"].pk, "reason": "matrix", "owner": "ops", "expires_at": expires}


NEW_SCHEDULE = {"name": "matrix", "actor": "echo", "interval_seconds": 60}
SCHEDULE_FORM = {
    "name": "matrix-form",
    "actor_name": "echo",
    "args": "[]",
    "kwargs": "{}",
    "interval_seconds": "60",
    "timezone": "UTC",
    "enabled": "on",
    "priority": "0",
    "overlap": "skip",
    "misfire_grace_seconds": "300",
}
NEW_RULE = {"field": "approver", "operator": "is_not_empty"}
MONITORING_ACTIONS = ("acknowledge", "resolve", "mute")

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
    Row("api:metric-series", "get", 401, 200, 200, query=lambda o: {"window": "30d", "queue": "default"}),
    Row("api:metric-breakdown", "get", 401, 200, 200, query=lambda o: {"by": "actor"}),
    Row("api:queue-list", "get", 401, 200, 200),
    Row("api:worker-list", "get", 401, 200, 200),
    Row("api:actor-list", "get", 401, 200, 200),
    Row("api:queue-control-list", "get", 401, 200, 200),
    Row("api:queue-control-detail", "get", 401, 200, 200, kwargs=lambda o: {"queue_name": "default"}),
    Row("api:actor-control-list", "get", 401, 200, 200),
    Row("api:schedule-list", "get", 401, 200, 200),
    Row("api:schedule-detail", "get", 401, 200, 200, kwargs=schedule),
    Row("api:schedule-runs", "get", 401, 200, 200, kwargs=schedule),
    Row("api:report-list", "get", 401, 200, 200),
    Row("api:alert-list", "get", 401, 200, 200),
    Row("api:alert-detail", "get", 401, 200, 200, kwargs=alert),
    Row("api:alert-rule-list", "get", 401, 200, 200),
    Row("api:alert-rule-detail", "get", 401, 200, 200, kwargs=alert_rule),
    # Reports belong to who requested them (staff here); staff read all: others get 404.
    Row("api:report-status", "get", 401, 404, 200, query=lambda o: {"report_id": o["report"].pk}),
    Row("api:report-download", "get", 401, 404, 200, kwargs=report),
    Row("api:report-metadata", "get", 401, 404, 200, kwargs=report),
    Row("api:monitoring-status", "get", 401, 200, 200),
    Row("api:monitoring-jobs", "get", 401, 200, 200),
    Row("api:monitoring-scans", "get", 401, 200, 200),
    Row("api:monitoring-health", "get", 401, 503, 503),  # no worker, no scheduler here: readiness says so
    Row("api:monitoring-policies", "get", 401, 200, 200),
    Row("api:monitoring-policy", "get", 401, 200, 200, kwargs=policy),
    Row("api:monitoring-rules", "get", 401, 200, 200),
    Row("api:monitoring-rule", "get", 401, 200, 200, kwargs=rule),
    # A preview writes nothing: any signed-in user may ask what a rule would find.
    Row("api:monitoring-rule-preview", "post", 401, 200, 200, kwargs=rule, data=lambda o: {}),
    Row("api:monitoring-violations", "get", 401, 200, 200),
    Row("api:monitoring-violation", "get", 401, 200, 200, kwargs=violation),
    Row("api:monitoring-violation-events", "get", 401, 200, 200, kwargs=violation),
    Row("api:monitoring-waivers", "get", 401, 200, 200),
    Row("api:monitoring-waiver", "get", 401, 200, 200, kwargs=waiver),
    Row("api:monitoring-records", "get", 401, 200, 200),
    Row("api:monitoring-record", "get", 401, 200, 200, kwargs=record),
    Row("api:document-list", "get", 401, 200, 200),
    Row("api:document-detail", "get", 401, 200, 200, kwargs=document),
    Row("api:document-text", "get", 401, 200, 200, kwargs=document),
    Row("api:document-download", "get", 401, 200, 200, kwargs=document),
    Row("api:document-batch-list", "get", 401, 200, 200),
    Row("api:document-batch-detail", "get", 401, 200, 200, kwargs=batch),
    Row("api:document-ledger", "get", 401, 200, 200),
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
    Row("api:job-bulk", "post", 401, 403, 202, data=lambda o: {"action": "retry", "filter": {"actor": "echo"}}),
    Row("api:job-rerun", "post", 401, 403, 201, kwargs=job, data=lambda o: {"args": [2]}),
    # --- The audit trail: staff only, reads included ---
    Row("api:audit-list", "get", 401, 403, 200),
    Row("api:audit-export", "get", 401, 403, 200),
    Row("api:queue-pause", "post", 401, 403, 200, kwargs=lambda o: {"queue_name": "reports"}),
    Row("api:queue-resume", "post", 401, 403, 200, kwargs=lambda o: {"queue_name": "reports"}),
    Row(
        "api:queue-limits",
        "post",
        401,
        403,
        200,
        kwargs=lambda o: {"queue_name": "reports"},
        data=lambda o: {"rate_limit": 5},
    ),
    Row(
        "api:actor-limits",
        "post",
        401,
        403,
        200,
        kwargs=lambda o: {"actor_name": "echo"},
        data=lambda o: {"max_concurrency": 2},
    ),
    Row("api:report-trigger", "post", 401, 403, 202, data=lambda o: {}),
    Row("api:alert-rule-detail", "patch", 401, 403, 200, kwargs=alert_rule, data=lambda o: {"enabled": False}),
    Row("api:report-store-data", "post", 401, 403, 200, data=upload, multipart=True),
    Row("api:monitoring-scan", "post", 401, 403, 202, data=lambda o: {}),
    Row("api:monitoring-policies", "post", 401, 403, 201, data=lambda o: {"name": "matrix-new"}),
    Row("api:monitoring-policy", "patch", 401, 403, 200, kwargs=policy, data=lambda o: {"severity": "low"}),
    Row("api:monitoring-policy", "delete", 401, 403, 204, kwargs=policy),
    Row("api:monitoring-extract-rules", "post", 401, 403, 202, kwargs=policy),
    Row("api:monitoring-rules", "post", 401, 403, 201, data=lambda o: {"policy_id": o["policy"].pk, **NEW_RULE}),
    Row("api:monitoring-rule", "patch", 401, 403, 200, kwargs=rule, data=lambda o: {"enabled": False}),
    Row("api:monitoring-rule", "delete", 401, 403, 204, kwargs=rule),
    *[
        Row(
            f"api:monitoring-violation-{action}",
            "post",
            401,
            403,
            200,
            kwargs=violation,
            data=lambda o: {"reason": "r"},
        )
        for action in MONITORING_ACTIONS
    ],
    Row("api:monitoring-violation-reopen", "post", 401, 403, 200, kwargs=resolved_violation, data=lambda o: {}),
    Row(
        "api:monitoring-violations-bulk",
        "post",
        401,
        403,
        200,
        data=lambda o: {"action": "acknowledge", "ids": [o["violation"].pk]},
    ),
    Row("api:monitoring-waivers", "post", 401, 403, 201, data=new_waiver),
    Row("api:monitoring-waiver", "delete", 401, 403, 200, kwargs=waiver),
    Row("api:monitoring-record", "delete", 401, 403, 200, kwargs=record),
    Row("api:monitoring-records-upload", "post", 401, 403, 200, data=records_upload, multipart=True),
    Row("api:document-list", "post", 401, 403, 201, data=document_upload, multipart=True),
    Row("api:document-reprocess", "post", 401, 403, 202, kwargs=document, data=lambda o: {}),
    # --- Pages: sign-in first (302 to the login page), then read-only for non-staff ---
    Row("api-docs", "get", 302, 200, 200),
    Row("jobs:overview", "get", 302, 200, 200),
    Row("jobs:list", "get", 302, 200, 200),
    Row("jobs:detail", "get", 302, 200, 200, kwargs=job),
    Row("jobs:dead_letters", "get", 302, 200, 200),
    Row("jobs:schedules", "get", 302, 200, 200),
    Row("jobs:workers", "get", 302, 200, 200),
    Row("jobs:queues", "get", 302, 200, 200),
    Row("jobs:metrics", "get", 302, 200, 200),
    Row("jobs:health", "get", 302, 200, 200),
    Row("reports:list", "get", 302, 200, 200),
    # --- Staff-only pages: forms that change something, and the audit trail ---
    Row("jobs:audit", "get", 302, 403, 200),
    Row("jobs:bulk_confirm", "get", 302, 403, 200, query=lambda o: {"action": "retry", "actor": "echo"}),
    Row("jobs:rerun", "get", 302, 403, 200, kwargs=job),
    Row("jobs:schedule_new", "get", 302, 403, 200),
    Row("jobs:schedule_edit", "get", 302, 403, 200, kwargs=schedule),
    Row("alerts:index", "get", 302, 200, 200),
    Row("reports:detail", "get", 302, 404, 200, kwargs=report),
    Row("monitoring:overview", "get", 302, 200, 200),
    Row("monitoring:violations", "get", 302, 200, 200),
    Row("monitoring:violation", "get", 302, 200, 200, kwargs=violation),
    Row("monitoring:policy", "get", 302, 200, 200, kwargs=policy),
    # A preview writes nothing: readers may see what a rule would find (the page, rendered again).
    Row("monitoring:rule_preview", "post", 302, 200, 200, kwargs=rule, data=lambda o: {"value": ""}),
    Row("documents:index", "get", 302, 200, 200),
    Row("documents:document", "get", 302, 200, 200, kwargs=document),
    Row("documents:batches", "get", 302, 200, 200),
    Row("documents:batch", "get", 302, 200, 200, kwargs=batch),
    Row("documents:ledger", "get", 302, 200, 200),
    # --- Dashboard actions: staff only (403 for readers), each a POST that redirects back ---
    Row("jobs:bulk", "post", 302, 403, 302, data=lambda o: {"action": "cancel", "ids": [o["queued_job"].pk]}),
    Row("jobs:retry", "post", 302, 403, 302, kwargs=job),
    Row("jobs:cancel", "post", 302, 403, 302, kwargs=waiting_job),
    Row("jobs:dead_letters_action", "post", 302, 403, 302, data=lambda o: {"action": "retry", "scope": "all"}),
    Row("jobs:schedule_action", "post", 302, 403, 302, kwargs=schedule, data=lambda o: {"action": "pause"}),
    Row("jobs:schedule_action", "post", 302, 403, 302, kwargs=schedule, data=lambda o: {"action": "delete"}),
    Row("jobs:bulk_apply", "post", 302, 403, 302, data=lambda o: {"action": "retry", "actor": "echo"}),
    Row("jobs:rerun", "post", 302, 403, 302, kwargs=job, data=lambda o: {"args": "[2]", "kwargs": "{}"}),
    Row("jobs:schedule_new", "post", 302, 403, 302, data=lambda o: SCHEDULE_FORM),
    Row(
        "jobs:schedule_edit",
        "post",
        302,
        403,
        302,
        kwargs=schedule,
        data=lambda o: {**SCHEDULE_FORM, "name": "matrix-existing", "priority": "3"},
    ),
    Row(
        "jobs:queue_action",
        "post",
        302,
        403,
        302,
        kwargs=lambda o: {"queue_name": "reports"},
        data=lambda o: {"action": "pause"},
    ),
    Row(
        "jobs:actor_limits",
        "post",
        302,
        403,
        302,
        kwargs=lambda o: {"actor_name": "echo"},
        data=lambda o: {"rate_limit": "3"},
    ),
    Row("reports:trigger", "post", 302, 403, 302, data=lambda o: {"kind": "store_uptime"}),
    # The submission form: staff only, even to see it; a valid submission redirects to the job.
    Row("jobs:submit", "get", 302, 403, 200),
    Row("jobs:submit", "post", 302, 403, 302, data=lambda o: {"actor": "echo", "priority": "0"}),
    Row("monitoring:scan_now", "post", 302, 403, 302, data=lambda o: {}),
    Row(
        "monitoring:violations_bulk",
        "post",
        302,
        403,
        302,
        data=lambda o: {"action": "acknowledge", "ids": [o["violation"].pk]},
    ),
    Row(
        "monitoring:violation_action",
        "post",
        302,
        403,
        302,
        kwargs=violation,
        data=lambda o: {"action": "acknowledge"},
    ),
    Row("monitoring:extract_rules", "post", 302, 403, 302, kwargs=policy),
    Row("monitoring:rule_toggle", "post", 302, 403, 302, kwargs=rule),
    Row("documents:upload", "post", 302, 403, 302, data=document_upload),
    Row("documents:reprocess", "post", 302, 403, 302, kwargs=document),
    Row("alerts:rule_update", "post", 302, 403, 302, kwargs=alert_rule, data=lambda o: {"action": "disable"}),
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
GET_REFUSED = [
    "jobs:bulk",
    "jobs:retry",
    "jobs:cancel",
    "jobs:dead_letters_action",
    "jobs:schedule_action",
    "jobs:bulk_apply",
    "monitoring:scan_now",
    "monitoring:violations_bulk",
    "monitoring:violation_action",
    "monitoring:extract_rules",
    "monitoring:rule_toggle",
    "monitoring:rule_preview",
    "documents:upload",
    "documents:reprocess",
    "jobs:queue_action",
    "jobs:actor_limits",
    "alerts:rule_update",
]
PAGE_APPS = ("jobs", "reports", "monitoring", "documents", "alerts")


def complete_report(user) -> Report:
    """A COMPLETE report of ``user`` with its two files, without computing one (fast, per test)."""
    report = Report.objects.create(requested_by=user, status=ReportStatus.COMPLETE, row_count=1)
    csv_name, json_name = files.file_names(kind=report.kind, report_id=report.id)
    files.write_csv(csv_name, ["store_id"], [["1"]])
    files.write_json(json_name, {"report_id": str(report.id)})
    Report.objects.filter(pk=report.pk).update(csv_file=csv_name, metadata_file=json_name)
    report.refresh_from_db()
    return report


def _monitoring(objects: dict) -> None:
    """A policy (with text) and its rule, a record that breaks it, the open violation, a waiver."""
    policy_row, (rule_row,) = make_policy(name="matrix-policy", rules=[NEW_RULE])
    monitoring_services.policy_update(policy_id=policy_row.pk, text="Every invoice names an approver.")
    (record_row,) = load_records([{"approver": ""}], source="matrix")
    scans.scan_execute(mode=ScanMode.FULL)
    (record_2,) = load_records([{"approver": ""}], source="matrix-2")
    scans.scan_execute(mode=ScanMode.FULL)
    resolved = Violation.objects.get(record=record_2)
    monitoring_services.violation_act(violation_id=resolved.pk, action="resolve")
    objects.update(
        policy=policy_row,
        rule=rule_row,
        record=record_row,
        violation=Violation.objects.get(record=record_row),
        resolved_violation=resolved,
        waiver=monitoring_services.waiver_create(
            policy_id=policy_row.pk, reason="matrix", owner="ops", expires_at=timezone.now() + timedelta(days=1)
        ),
    )


def _documents(objects: dict, staff_user) -> None:
    """A received document (not being processed: it may be reprocessed) and a batch of two."""
    objects["document"] = receive(b"Matrix document one.\n", "one.txt", submit=False).document
    upload = document_services.documents_upload(
        files=[(io.BytesIO(b"Batch file a.\n"), "a.txt"), (io.BytesIO(b"Batch file b.\n"), "b.txt")],
        uploaded_by=staff_user,
    )
    objects["batch"] = upload.batch


class Objects(dict):
    """The objects the rows name, each family made the first time a row asks for one of it."""

    def __init__(self, builders: dict, **made):
        super().__init__(**made)
        self.builders = builders

    def __missing__(self, key):
        for keys, build in self.builders.items():
            if key in keys:
                build(self)
                return self[key]
        raise KeyError(key)


def open_alert() -> Alert:
    now = timezone.now()
    rule = AlertRule.objects.create(name="matrix-rule", kind="no_worker", parameters={"queues": []})
    return Alert.objects.create(rule=rule, subject="queue:default", opened_at=now, last_evaluated_at=now)


@pytest.fixture
def objects(staff_user, db, settings, tmp_path):
    use_document_storage(settings, tmp_path)
    report = complete_report(staff_user)
    builders = {
        ("policy", "rule", "record", "violation", "resolved_violation", "waiver"): _monitoring,
        ("document", "batch"): lambda made: _documents(made, staff_user),
        ("alert",): lambda made: made.update(alert=open_alert()),
    }
    return Objects(
        builders,
        failed_job=JobFactory(status=JobStatus.FAILED, actor_name="echo", error_type="KeyError"),
        queued_job=JobFactory(status=JobStatus.QUEUED, actor_name="echo"),
        schedule=Schedule.objects.create(name="matrix-existing", actor_name="echo", interval_seconds=60),
        report=report,
    )


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
    if expected == 302 and row.page and role in ("anonymous", "reader_token") and row.name.startswith(PAGE_APPS):
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
