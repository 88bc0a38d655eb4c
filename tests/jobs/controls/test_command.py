import io

import pytest
from django.core.management import CommandError, call_command

from jobs.audit.models import AuditEntry
from jobs.controls.models import ActorControl, QueueControl

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("queue_control", *args, stdout=out)
    return out.getvalue()


def test_pause_limit_resume_from_the_command_are_audited_as_the_system():
    assert "queue reports: paused" in run("pause", "reports")
    run("limit", "reports", "--concurrency", "3", "--rate", "10", "--period", "2")
    control = QueueControl.objects.get(queue_name="reports")
    assert (control.paused, control.max_concurrency, control.rate_limit, control.rate_period) == (True, 3, 10, 2.0)
    run("limit", "reports", "--concurrency", "none")
    assert QueueControl.objects.get(queue_name="reports").max_concurrency is None
    run("actor-limit", "echo", "--concurrency", "1")
    assert ActorControl.objects.get(actor_name="echo").max_concurrency == 1
    assert "queue reports: active" in run("resume", "reports")
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "user_id"))
    assert [a for a, _ in entries] == ["queue.pause", "queue.limit", "queue.limit", "actor.limit", "queue.resume"]
    assert {u for _, u in entries} == {None}


@pytest.mark.parametrize(
    "args",
    [
        ("pause", "nope"),
        ("limit", "reports"),
        ("limit", "reports", "--rate", "x"),
        ("actor-limit", "echo", "--window", "2"),
    ],
)
def test_bad_commands_fail_without_writing(args):
    with pytest.raises(CommandError):
        run(*args)
    assert not AuditEntry.objects.exists()
