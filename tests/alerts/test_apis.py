"""The alerts API: lists and details for anyone signed in, rule edits for staff, one error shape."""

import pytest
from django.utils import timezone

from jobs.alerts import services
from jobs.alerts.models import Alert, AlertRule
from jobs.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(no_rules):
    return AlertRule.objects.create(
        name="failures", kind="failure_rate", parameters={"threshold_percent": 50, "window_minutes": 15, "min_jobs": 10}
    )


def add_alert(rule, subject, *, resolved=False):
    now = timezone.now()
    return Alert.objects.create(
        rule=rule,
        subject=subject,
        status="resolved" if resolved else "open",
        summary=f"about {subject}",
        opened_at=now,
        resolved_at=now if resolved else None,
        last_evaluated_at=now,
    )


def test_alerts_are_listed_newest_first_with_filters_and_cursor_pages(reader_client, rule):
    alerts = [add_alert(rule, f"actor:a{i}", resolved=i % 2 == 0) for i in range(5)]
    body = reader_client.get("/api/v1/alerts", {"page_size": 2}).json()
    assert [a["id"] for a in body["results"]] == [alerts[4].pk, alerts[3].pk]
    assert body["results"][0]["rule"] == {"id": rule.pk, "name": "failures", "kind": "failure_rate"}
    second = reader_client.get(body["next"]).json()
    assert [a["id"] for a in second["results"]] == [alerts[2].pk, alerts[1].pk]
    opened = reader_client.get("/api/v1/alerts", {"status": "open"}).json()["results"]
    assert {a["subject"] for a in opened} == {"actor:a1", "actor:a3"}
    assert reader_client.get("/api/v1/alerts", {"kind": "no_worker"}).json()["results"] == []
    assert len(reader_client.get("/api/v1/alerts", {"rule": rule.pk}).json()["results"]) == 5
    bad = reader_client.get("/api/v1/alerts", {"status": "sleeping"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    assert reader_client.get(f"/api/v1/alerts/{alerts[0].pk}").json()["summary"] == "about actor:a0"
    assert reader_client.get("/api/v1/alerts/999999").status_code == 404


def test_rules_are_listed_with_their_open_alerts(reader_client, rule):
    add_alert(rule, "actor:x")
    add_alert(rule, "actor:y", resolved=True)
    [listed] = reader_client.get("/api/v1/alert-rules").json()
    assert listed["open_alerts"] == 1 and listed["parameters"]["min_jobs"] == 10
    assert reader_client.get(f"/api/v1/alert-rules/{rule.pk}").json()["name"] == "failures"


def test_staff_edit_a_rule_partially_and_readers_may_not(staff_client, reader_client, rule, staff_user):
    url = f"/api/v1/alert-rules/{rule.pk}"
    assert reader_client.patch(url, {"enabled": False}, format="json").status_code == 403
    response = staff_client.patch(
        url,
        {"parameters": {"min_jobs": 3}, "email_recipients": ["ops@example.com"], "webhook_url": "https://h.example/x"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["parameters"] == {"threshold_percent": 50, "window_minutes": 15, "min_jobs": 3}
    assert body["email_recipients"] == ["ops@example.com"] and body["enabled"] is True
    assert AuditEntry.objects.filter(action="alert_rule.update", user=staff_user).count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"parameters": {"min_jobs": 0}},
        {"parameters": {"nonsense": 1}},
        {"parameters": {"window_minutes": "5"}},
        {"parameters": []},
        {"email_recipients": ["nobody"]},
        {"webhook_url": "javascript:alert(1)"},
        {"enabled": "false"},
    ],
)
def test_a_wrong_edit_is_a_400_in_the_one_error_shape_and_changes_nothing(staff_client, rule, payload):
    response = staff_client.patch(f"/api/v1/alert-rules/{rule.pk}", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "details"}
    rule.refresh_from_db()
    assert rule.parameters["min_jobs"] == 10 and rule.enabled and rule.webhook_url == ""


def test_a_rule_disabled_through_the_api_resolves_its_alerts_at_the_next_evaluation(staff_client, rule):
    alert = add_alert(rule, "actor:z")
    staff_client.patch(f"/api/v1/alert-rules/{rule.pk}", {"enabled": False}, format="json")
    assert services.alerts_evaluate()["resolved"] == 1
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_an_alert_lists_its_notifications_and_their_delivery(reader_client, rule):
    AlertRule.objects.filter(pk=rule.pk).update(
        kind="no_worker", parameters={"queues": ["scans"]}, email_recipients=["ops@example.com"]
    )
    services.alerts_evaluate()
    [alert] = reader_client.get("/api/v1/alerts").json()["results"]
    assert [(n["change"], n["channel"], n["status"]) for n in alert["notifications"]] == [
        ("opened", "email", "pending")
    ]
