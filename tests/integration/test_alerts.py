"""Alerts end to end: the scheduler fires the evaluation, a worker runs it and the delivery jobs,
a webhook in the test receives exactly one POST per change."""

import pytest

from jobs.alerts.models import Alert, AlertNotification, AlertRule
from jobs.scheduling import services as schedule_services
from jobs.scheduling.models import Schedule
from tests.alerts.conftest import Webhook
from tests.integration.conftest import wait_for
from tests.scheduling.conftest import start_scheduler  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def webhook():
    server = Webhook()
    yield server
    server.close()


def evaluations(rule) -> int:
    """How many evaluation jobs have succeeded so far."""
    from jobs.models import Job

    return Job.objects.filter(actor_name="alerts.evaluate", status="succeeded").count()


def test_the_scheduler_evaluates_through_a_worker_and_each_change_is_posted_once(
    start_worker,
    start_scheduler,  # noqa: F811
    webhook,
):
    Schedule.objects.all().delete()
    AlertRule.objects.all().delete()
    schedule_services.schedule_create(
        name="Alert evaluation", actor_name="alerts.evaluate", interval_seconds=1, queue_name="maintenance"
    )
    rule = AlertRule.objects.create(
        name="scans unserved", kind="no_worker", parameters={"queues": ["scans"]}, webhook_url=webhook.url
    )
    start_worker(threads=4, queues=["default", "maintenance"])
    start_scheduler(SCHEDULER_SYNC_INTERVAL=1)

    wait_for(lambda: webhook.received, timeout=30, message="the opened alert's POST")
    assert webhook.received[0]["event"] == "alert.opened"
    assert webhook.received[0]["alert"]["subject"] == "queue:scans"
    seen = evaluations(rule)
    wait_for(lambda: evaluations(rule) >= seen + 3, timeout=30, message="three more evaluations")
    assert len(webhook.received) == 1  # still open: nothing more is sent

    start_worker(threads=1, queues=["scans"])
    wait_for(lambda: len(webhook.received) >= 2, timeout=30, message="the resolved alert's POST")
    seen = evaluations(rule)
    wait_for(lambda: evaluations(rule) >= seen + 3, timeout=30, message="three more evaluations")
    assert [m["event"] for m in webhook.received] == ["alert.opened", "alert.resolved"]
    assert Alert.objects.get(rule=rule).status == "resolved"
    assert set(AlertNotification.objects.values_list("status", flat=True)) == {"sent"}
    assert len(set(webhook.keys)) == 2
