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
