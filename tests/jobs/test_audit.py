import pytest
from django.contrib.auth.models import AnonymousUser, User

from jobs.audit.models import AuditEntry
from jobs.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_audit_record_keeps_who_what_and_how_many():
    user = User.objects.create_user("ops", is_staff=True)
    entry = audit_record(user=user, action="queue.pause", target_type="queue", target_id="reports", count=3)
    entry.refresh_from_db()
    assert (entry.username, entry.user_id, entry.action, entry.target_id, entry.count) == (
        "ops",
        user.pk,
        "queue.pause",
        "reports",
        3,
    )


def test_audit_record_by_the_system_and_with_unstorable_detail():
    entry = audit_record(user=AnonymousUser(), action="jobs.prune", detail={"text": "a\u0000b"})
    entry.refresh_from_db()
    assert entry.user_id is None and entry.username == ""
    assert "\x00" not in entry.detail["text"]


def test_the_name_survives_the_user():
    user = User.objects.create_user("gone")
    audit_record(user=user, action="job.retry", target_type="job", target_id="x")
    user.delete()
    assert AuditEntry.objects.get().username == "gone"


# --- An audit row for every operator action of the authorization matrix ---------------------------

from django.urls import reverse  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from tests.test_authorization_matrix import ROWS, objects  # noqa: E402, F401  (objects: the matrix's fixture)

# Staff writes that are not operator actions: signing out, reports (their own app), and a plain
# submit, by the API or the form (the job row itself says what was asked).
NOT_OPERATOR_ACTIONS = {
    "jobs:logout",
    "api:report-trigger",
    "api:report-store-data",
    "reports:trigger",
    "api:job-list",
    "jobs:submit",
}
# The workloads keep their own histories (monitoring's ViolationEvent, documents' ledger).
WORKLOAD_PREFIXES = ("api:monitoring-", "api:document-", "monitoring:", "documents:")
ACTION_ROWS = [
    r
    for r in ROWS
    if r.method in ("post", "patch", "delete")
    and r.name not in NOT_OPERATOR_ACTIONS
    and not r.name.startswith(WORKLOAD_PREFIXES)
]


@pytest.mark.parametrize("row", ACTION_ROWS, ids=str)
def test_every_operator_action_leaves_an_audit_row_naming_who(row, objects, staff_user):  # noqa: F811
    client = APIClient()
    client.force_login(staff_user)
    options = {}
    if row.data:
        options = {"data": row.data(objects), "format": "multipart" if row.page else "json"}
    before = set(AuditEntry.objects.values_list("pk", flat=True))
    response = getattr(client, row.method)(reverse(row.name, kwargs=row.kwargs(objects)), **options)
    assert response.status_code == row.staff, response.content[:500]
    new = list(AuditEntry.objects.exclude(pk__in=before))
    assert new, f"{row} left no audit row"
    assert all(entry.username == "staff" and entry.action for entry in new)


def test_every_action_row_of_the_matrix_is_examined():
    # A new operator action added to the matrix is examined above without further ado; this keeps
    # the exclusion list honest (each excluded name is still a row of the matrix).
    names = {row.name for row in ROWS}
    assert NOT_OPERATOR_ACTIONS <= names
    assert len(ACTION_ROWS) >= 20
