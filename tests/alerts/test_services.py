"""Evaluation: each kind opens once, stays open without a new message, resolves with one message."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs import registry
from jobs.alerts import kinds, services
from jobs.alerts.models import Alert, AlertKind, AlertNotification, AlertRule, AlertStatus
from jobs.audit.models import AuditEntry
from jobs.errors import NotFound, ValidationFailed
from jobs.models import Job, JobStatus, Worker, WorkerHost
from jobs.scheduling.models import Schedule
from tests.alerts.conftest import notifications, run_deliveries
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db
S = JobStatus


def make_rule(kind, *, emails=("ops@example.com",), webhook="", **parameters) -> AlertRule:
    return AlertRule.objects.create(
        name=f"test {kind}",
        kind=kind,
        parameters=kinds.kind_of(kind).clean(parameters),
        email_recipients=list(emails),
        webhook_url=webhook,
    )


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def assert_lifecycle(rule, mail, *, make_true, make_false, subject):
    """true → one alert, one message; still true → nothing new; false → resolved, one more message."""
    make_true()
    assert services.alerts_evaluate()["opened"] == 1
    alert = Alert.objects.get(rule=rule)
    assert (alert.subject, alert.status) == (subject, AlertStatus.OPEN)
    run_deliveries()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("[alert opened]") and mail.outbox[0].to == ["ops@example.com"]

    result = services.alerts_evaluate()
    assert (result["opened"], result["kept"], result["resolved"]) == (0, 1, 0)
    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertNotification.objects.filter(alert__rule=rule).count() == 1
    run_deliveries()
    assert len(mail.outbox) == 1

    make_false()
    assert services.alerts_evaluate()["resolved"] == 1
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None
    run_deliveries()
    run_deliveries()  # a delivery job run twice sends nothing twice
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject.startswith("[alert resolved]")
    assert notifications(alert__rule=rule) == [("opened", "email", "sent"), ("resolved", "email", "sent")]
    assert services.alerts_evaluate()["resolved"] == 0
    return alert


def test_a_job_running_past_its_time_limit(no_rules, mail):
    rule = make_rule(AlertKind.STUCK_JOB, grace_seconds=60)
    limit = registry.get_spec("echo").time_limit
    job = JobFactory(status=S.QUEUED, actor_name="echo")
    # A job inside its limit is not stuck.
    JobFactory(status=S.RUNNING, actor_name="echo", started_at=ago(limit - 10))

    def make_true():
        Job.objects.filter(pk=job.pk).update(status=S.RUNNING, started_at=ago(limit + 90))

    def make_false():
        Job.objects.filter(pk=job.pk).update(status=S.SUCCEEDED, finished_at=timezone.now())

    alert = assert_lifecycle(rule, mail, make_true=make_true, make_false=make_false, subject=f"job:{job.pk}")
    assert alert.details["actor"] == "echo" and alert.details["time_limit_seconds"] == limit


def test_a_queue_whose_oldest_waiting_job_is_too_old(no_rules, mail):
    rule = make_rule(AlertKind.QUEUE_LATENCY, max_wait_seconds=60, queues=["reports"])
    JobFactory(status=S.QUEUED, queue_name="default", available_at=ago(600))  # not watched
    old = JobFactory(status=S.QUEUED, queue_name="reports", available_at=ago(30))

    def make_true():
        Job.objects.filter(pk=old.pk).update(available_at=ago(120))

    def make_false():
        Job.objects.filter(pk=old.pk).update(status=S.RUNNING, started_at=timezone.now())

    alert = assert_lifecycle(rule, mail, make_true=make_true, make_false=make_false, subject="queue:reports")
    assert alert.details["oldest_waiting_seconds"] >= 120 and alert.details["waiting_jobs"] == 1


def test_a_paused_queue_waits_on_purpose_and_raises_no_latency_alert(no_rules, mail):
    from jobs.controls.services import queue_pause

    rule = make_rule(AlertKind.QUEUE_LATENCY, max_wait_seconds=60, queues=[])
    JobFactory(status=S.QUEUED, queue_name="reports", available_at=ago(600))
    queue_pause(queue_name="reports")
    services.alerts_evaluate()
    assert not Alert.objects.filter(rule=rule).exists()


def test_an_actor_failing_too_often_with_a_minimum_sample(no_rules, mail):
    rule = make_rule(AlertKind.FAILURE_RATE, threshold_percent=50, window_minutes=15, min_jobs=4)

    def finish(status, count, *, when=None):
        for _ in range(count):
            JobFactory(status=status, actor_name="echo", finished_at=when or timezone.now())

    finish(S.FAILED, 3)
    finish(S.SUCCEEDED, 10, when=ago(20 * 60))  # outside the window
    assert services.alerts_evaluate()["opened"] == 0  # 3 of 3 failed, but fewer than 4 finished

    alert = assert_lifecycle(
        rule,
        mail,
        make_true=lambda: finish(S.SUCCEEDED, 1),  # 3 of 4 failed: 75 %
        make_false=lambda: finish(S.SUCCEEDED, 4),  # 3 of 8: 37.5 %
        subject="actor:echo",
    )
    assert alert.details["failed"] == 3 and alert.details["finished"] == 4


def test_a_schedule_that_missed_a_fire(no_rules, mail):
    rule = make_rule(AlertKind.MISSED_SCHEDULE, grace_seconds=60)
    schedule = Schedule.objects.create(name="late", actor_name="echo", interval_seconds=60, next_run_at=ago(30))
    Schedule.objects.create(name="paused", actor_name="echo", interval_seconds=60, enabled=False, next_run_at=ago(900))

    alert = assert_lifecycle(
        rule,
        mail,
        make_true=lambda: Schedule.objects.filter(pk=schedule.pk).update(next_run_at=ago(300)),
        make_false=lambda: Schedule.objects.filter(pk=schedule.pk).update(next_run_at=ago(-60)),
        subject=f"schedule:{schedule.pk}",
    )
    assert alert.details["schedule"] == "late"


def test_a_queue_without_a_live_worker(no_rules, mail):
    rule = make_rule(AlertKind.NO_WORKER, queues=["reports"])
    host = WorkerHost.objects.create(id="h:1:a", hostname="h", pid=1)
    Worker.objects.create(id="h:1:a/2", host=host, hostname="h", pid=2, queues=["default"])
    # A dead worker of the queue does not count.
    Worker.objects.create(id="h:1:a/3", host=host, hostname="h", pid=3, queues=["reports"], heartbeat_at=ago(3600))

    def make_false():
        Worker.objects.create(id="h:1:a/4", host=host, hostname="h", pid=4, queues=["reports"])

    assert_lifecycle(rule, mail, make_true=lambda: None, make_false=make_false, subject="queue:reports")


def test_webhook_gets_one_post_per_change_with_its_notification_id(no_rules, webhook, mail):
    rule = make_rule(AlertKind.NO_WORKER, emails=(), webhook=webhook.url, queues=["scans"])
    services.alerts_evaluate()
    assert webhook.received == []  # the evaluation itself sends nothing: the delivery jobs do
    services.alerts_evaluate()
    run_deliveries()
    run_deliveries()
    assert [m["event"] for m in webhook.received] == ["alert.opened"]
    assert webhook.received[0]["alert"]["subject"] == "queue:scans"
    assert webhook.received[0]["rule"] == {"id": rule.pk, "name": rule.name, "kind": "no_worker"}
    assert webhook.keys == [webhook.received[0]["notification_id"]]

    rule.parameters = {"queues": []}
    rule.enabled = False
    rule.save()
    assert services.alerts_evaluate()["resolved"] == 1  # a disabled rule's alerts resolve
    run_deliveries()
    assert [m["event"] for m in webhook.received] == ["alert.opened", "alert.resolved"]
    assert webhook.received[1]["alert"]["details"]["resolution"] == "rule disabled"
    assert mail.outbox == []


def test_a_failing_webhook_is_retried_with_the_same_key_and_a_refusing_one_given_up(no_rules, webhook):
    from jobs.alerts import delivery
    from jobs.errors import PermanentError

    make_rule(AlertKind.NO_WORKER, emails=(), webhook=webhook.url, queues=["scans"])
    services.alerts_evaluate()
    notification = AlertNotification.objects.get()
    webhook.status = 503
    with pytest.raises(Exception, match="503"):
        delivery.notification_deliver(notification_id=notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    webhook.status = 200
    assert delivery.notification_deliver(notification_id=notification.pk) == "sent"
    assert delivery.notification_deliver(notification_id=notification.pk).startswith("not sent")
    assert len(webhook.received) == 2 and len(set(webhook.keys)) == 1

    AlertNotification.objects.filter(pk=notification.pk).update(status="pending")
    webhook.status = 404
    with pytest.raises(PermanentError):
        delivery.notification_deliver(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.status == "gave_up" and "404" in notification.error


def test_a_racing_evaluation_that_loses_the_constraint_opens_and_sends_nothing(no_rules):
    rule = make_rule(AlertKind.NO_WORKER, queues=["scans"])
    services.alerts_evaluate()
    now = timezone.now()
    # As if a second evaluation had read "no open alert" before the first committed its own.
    assert services._alert_open(rule=rule, subject="queue:scans", summary="", details={}, now=now) is None
    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertNotification.objects.count() == 1
    assert Job.objects.filter(actor_name="alerts.deliver").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_once_open_one_alert(monkeypatch, no_rules):
    rule = make_rule(AlertKind.NO_WORKER, queues=["scans"])
    check = kinds.KINDS[AlertKind.NO_WORKER].check

    def slow_check(params, now):
        time.sleep(0.3)  # both evaluations are inside their rule at once, or one waits on it
        return check(params, now)

    monkeypatch.setitem(
        kinds.KINDS, AlertKind.NO_WORKER, kinds.Kind(slow_check, kinds.KINDS[AlertKind.NO_WORKER].params)
    )
    barrier = threading.Barrier(2)
    results = []

    def evaluate():
        try:
            barrier.wait()
            results.append(services.alerts_evaluate())
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 2 and all(not r["errors"] for r in results)
    assert sum(r["opened"] for r in results) == 1
    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertNotification.objects.count() == 1


def test_the_database_refuses_two_open_alerts_for_one_subject(no_rules):
    from django.db import IntegrityError, transaction

    rule = make_rule(AlertKind.NO_WORKER)
    now = timezone.now()
    Alert.objects.create(rule=rule, subject="queue:x", opened_at=now, last_evaluated_at=now)
    Alert.objects.create(
        rule=rule, subject="queue:x", status="resolved", opened_at=now, resolved_at=now, last_evaluated_at=now
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule=rule, subject="queue:x", opened_at=now, last_evaluated_at=now)


def test_a_broken_rule_does_not_stop_the_others(no_rules):
    broken = make_rule(AlertKind.QUEUE_LATENCY)
    AlertRule.objects.filter(pk=broken.pk).update(parameters={"max_wait_seconds": "soon"})
    make_rule(AlertKind.NO_WORKER, queues=["scans"])
    result = services.alerts_evaluate()
    assert result["opened"] == 1 and list(result["errors"]) == [broken.name]


def test_rule_update_merges_parameters_checks_them_and_is_audited(no_rules, staff_user):
    rule = make_rule(AlertKind.FAILURE_RATE)
    updated = services.alert_rule_update(
        rule_id=rule.pk, user=staff_user, parameters={"threshold_percent": 20}, email_recipients=["a@example.com"]
    )
    assert updated.parameters == {"threshold_percent": 20, "window_minutes": 15, "min_jobs": 10}
    entry = AuditEntry.objects.get(action="alert_rule.update")
    assert entry.username == "staff" and entry.target_id == str(rule.pk)
    for bad in (
        {"parameters": {"threshold_percent": 100}},
        {"parameters": {"window": 5}},
        {"parameters": {"min_jobs": True}},
        {"email_recipients": ["not an address"]},
        {"webhook_url": "ftp://example.com/x"},
        {"enabled": "yes"},
    ):
        with pytest.raises(ValidationFailed):
            services.alert_rule_update(rule_id=rule.pk, **bad)
    with pytest.raises(NotFound):
        services.alert_rule_update(rule_id=999999, enabled=False)
    rule.refresh_from_db()
    assert rule.parameters["threshold_percent"] == 20 and AuditEntry.objects.count() == 1


def test_the_migration_creates_enabled_default_rules_and_their_schedule(db):
    kinds_present = set(AlertRule.objects.filter(enabled=True).values_list("kind", flat=True))
    assert kinds_present == {k.value for k in AlertKind}
    for rule in AlertRule.objects.all():
        assert rule.parameters == kinds.kind_of(rule.kind).clean(rule.parameters)
    schedule = Schedule.objects.get(name="Alert evaluation")
    assert (schedule.actor_name, schedule.cron, schedule.queue_name) == ("alerts.evaluate", "* * * * *", "maintenance")
    assert registry.get_spec("alerts.evaluate").internal


def test_the_evaluation_job_fails_when_a_rule_could_not_be_evaluated(no_rules):
    from jobs.alerts.actors import evaluate_alerts
    from jobs.errors import PermanentError

    make_rule(AlertKind.NO_WORKER, queues=["scans"])
    assert evaluate_alerts.fn()["opened"] == 1
    broken = make_rule(AlertKind.STUCK_JOB)
    AlertRule.objects.filter(pk=broken.pk).update(parameters={"grace_seconds": -1})
    with pytest.raises(PermanentError, match=broken.name):
        evaluate_alerts.fn()
    assert Alert.objects.filter(status="open").count() == 1  # the sound rule was evaluated all the same
