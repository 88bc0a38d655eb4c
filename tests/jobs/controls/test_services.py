import pytest
from django.contrib.auth.models import User

from jobs.audit.models import AuditEntry
from jobs.controls import selectors, services
from jobs.controls.models import ActorControl, QueueControl
from jobs.errors import NotFound, ValidationFailed
from jobs.models import JobStatus
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


def test_pause_and_resume_are_persisted_and_audited_with_who():
    ops = User.objects.create_user("ops", is_staff=True)
    control = services.queue_pause(queue_name="reports", user=ops)
    assert control.paused and control.paused_at is not None
    assert QueueControl.objects.get(queue_name="reports").paused
    services.queue_resume(queue_name="reports", user=ops)
    assert not QueueControl.objects.get(queue_name="reports").paused
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "target_type", "target_id", "username"))
    assert entries == [("queue.pause", "queue", "reports", "ops"), ("queue.resume", "queue", "reports", "ops")]


def test_a_limit_change_records_before_and_after_and_keeps_what_was_not_named():
    services.queue_set_limits(queue_name="scans", max_concurrency=4, rate_limit=10)
    services.queue_set_limits(queue_name="scans", rate_limit=None)
    control = QueueControl.objects.get(queue_name="scans")
    assert (control.max_concurrency, control.rate_limit, control.rate_period) == (4, None, 1.0)
    last = AuditEntry.objects.filter(action="queue.limit").latest("id")
    assert last.detail["before"]["rate_limit"] == 10 and last.detail["after"]["rate_limit"] is None
    assert last.detail["after"]["max_concurrency"] == 4 and last.username == ""


def test_actor_limits_are_audited_per_actor():
    services.actor_set_limits(actor_name="echo", max_concurrency=1, rate_limit=5, rate_period=2)
    assert ActorControl.objects.get(actor_name="echo").rate_period == 2.0
    entry = AuditEntry.objects.get(action="actor.limit")
    assert (entry.target_type, entry.target_id) == ("actor", "echo")


@pytest.mark.parametrize(
    "changes",
    [{"max_concurrency": 0}, {"rate_limit": -1}, {"rate_limit": True}, {"rate_period": 0}, {"ready_window": "3"}],
)
def test_bad_limits_are_refused_and_nothing_is_written(changes):
    with pytest.raises(ValidationFailed):
        services.queue_set_limits(queue_name="default", **changes)
    assert not QueueControl.objects.exists() and not AuditEntry.objects.exists()


def test_unknown_queue_or_actor_is_not_found():
    with pytest.raises(NotFound):
        services.queue_pause(queue_name="nope")
    with pytest.raises(NotFound):
        services.actor_set_limits(actor_name="nope", max_concurrency=1)


def test_selectors_list_every_queue_and_actor_with_counts():
    services.queue_pause(queue_name="reports")
    JobFactory(queue_name="reports", status=JobStatus.RUNNING)
    JobFactory(queue_name="reports", status=JobStatus.PENDING)
    rows = {row["queue"]: row for row in selectors.queue_control_list()}
    assert rows["reports"]["paused"] and (rows["reports"]["running"], rows["reports"]["waiting"]) == (1, 1)
    assert not rows["default"]["paused"] and rows["default"]["max_concurrency"] is None
    actors = {row["actor"]: row for row in selectors.actor_control_list()}
    assert actors["echo"]["running"] == 1 and actors["echo"]["queue"]
    assert selectors.queue_control_get("nope") is None and selectors.actor_control_get("nope") is None
