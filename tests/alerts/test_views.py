"""The Alerts page: open alerts first, the history, the rules; staff edit thresholds there."""

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.alerts.models import Alert, AlertRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(no_rules):
    return AlertRule.objects.create(
        name="latency", kind="queue_latency", parameters={"max_wait_seconds": 300, "queues": []}
    )


def test_the_page_shows_open_alerts_history_and_rules(reader_browser, rule):
    now = timezone.now()
    Alert.objects.create(
        rule=rule, subject="queue:reports", summary="reports is slow", opened_at=now, last_evaluated_at=now
    )
    Alert.objects.create(
        rule=rule,
        subject="queue:scans",
        status="resolved",
        summary="scans was slow",
        opened_at=now,
        resolved_at=now,
        last_evaluated_at=now,
    )
    html = reader_browser.get(reverse("alerts:index")).content.decode()
    assert html.index("reports is slow") < html.index("History") < html.index("scans was slow")
    assert "max_wait_seconds: 300" in html
    assert 'name="param_max_wait_seconds"' not in html  # read-only for non-staff
    partial = reader_browser.get(reverse("alerts:index"), {"partial": "1"}).content.decode()
    assert "reports is slow" in partial and "<html" not in partial


def test_staff_edit_thresholds_and_channels_from_the_page(staff_browser, rule):
    page = staff_browser.get(reverse("alerts:index")).content.decode()
    assert 'name="param_max_wait_seconds"' in page
    response = staff_browser.post(
        reverse("alerts:rule_update", args=[rule.pk]),
        {
            "param_max_wait_seconds": "120",
            "param_queues": "reports, scans",
            "email_recipients": "a@example.com",
            "webhook_url": "",
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.parameters == {"max_wait_seconds": 120, "queues": ["reports", "scans"]}
    assert rule.email_recipients == ["a@example.com"]

    staff_browser.post(reverse("alerts:rule_update", args=[rule.pk]), {"action": "disable"})
    rule.refresh_from_db()
    assert rule.enabled is False


def test_a_wrong_threshold_is_refused_with_a_message(staff_browser, rule):
    response = staff_browser.post(
        reverse("alerts:rule_update", args=[rule.pk]), {"param_max_wait_seconds": "soon"}, follow=True
    )
    assert "not saved" in response.content.decode()
    response = staff_browser.post(
        reverse("alerts:rule_update", args=[rule.pk]), {"param_queues": "nowhere"}, follow=True
    )
    assert "unknown nowhere" in response.content.decode()
    rule.refresh_from_db()
    assert rule.parameters["max_wait_seconds"] == 300 and rule.parameters["queues"] == []


def test_the_page_costs_the_same_queries_at_any_number_of_alerts_and_rules(staff_browser, rule):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_browser.get(reverse("alerts:index")).status_code == 200
        return len(captured)

    now = timezone.now()
    Alert.objects.create(rule=rule, subject="queue:a", opened_at=now, last_evaluated_at=now)
    Alert.objects.create(
        rule=rule, subject="queue:a", status="resolved", opened_at=now, resolved_at=now, last_evaluated_at=now
    )
    few = queries()
    for i in range(3):
        other = AlertRule.objects.create(name=f"r{i}", kind="no_worker", parameters={"queues": []})
        for j in range(5):
            Alert.objects.create(rule=other, subject=f"queue:{j}", opened_at=now, last_evaluated_at=now)
            Alert.objects.create(
                rule=other,
                subject=f"queue:{j}",
                status="resolved",
                opened_at=now,
                resolved_at=now,
                last_evaluated_at=now,
            )
    assert queries() == few
