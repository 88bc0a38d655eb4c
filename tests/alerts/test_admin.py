"""The admin edits rules through the services' checks, and records who did it."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from jobs.alerts.models import AlertRule
from jobs.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(staff_user, client):
    get_user_model().objects.filter(pk=staff_user.pk).update(is_superuser=True)
    client.force_login(staff_user)
    return client


def form(**fields):
    return {
        "name": "admin rule",
        "kind": "queue_latency",
        "description": "",
        "enabled": "on",
        "parameters": '{"max_wait_seconds": 30}',
        "email_recipients": '["ops@example.com"]',
        "webhook_url": "",
        **fields,
    }


def test_a_rule_added_in_the_admin_is_checked_completed_and_audited(admin_browser, no_rules):
    response = admin_browser.post(reverse("admin:jobs_alertrule_add"), form(parameters='{"max_wait_seconds": 0}'))
    assert response.status_code == 200 and "between 1 and" in response.content.decode()
    response = admin_browser.post(reverse("admin:jobs_alertrule_add"), form(webhook_url="ftp://x.example/"))
    assert response.status_code == 200 and not AlertRule.objects.exists()

    response = admin_browser.post(reverse("admin:jobs_alertrule_add"), form())
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.parameters == {"max_wait_seconds": 30, "queues": []}
    assert AuditEntry.objects.get(action="alert_rule.create").target_id == str(rule.pk)


def test_alerts_and_notifications_are_read_only_in_the_admin(admin_browser):
    assert admin_browser.get(reverse("admin:jobs_alert_changelist")).status_code == 200
    assert admin_browser.get(reverse("admin:jobs_alertnotification_changelist")).status_code == 200
    assert admin_browser.get(reverse("admin:jobs_alert_add")).status_code == 403
