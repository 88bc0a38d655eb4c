"""The Alerts page in a real browser: an alert opened by an evaluation shows, its resolution shows
without a reload, and staff change a threshold and disable a rule from the page."""

import pytest
from django.urls import reverse

from jobs.alerts import services
from jobs.alerts.models import Alert, AlertRule
from jobs.models import Worker, WorkerHost
from tests.dashboard.test_browser import CHROMIUM, MISSING, browser, log_in, page  # noqa: F401

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]


def test_the_alerts_page_shows_an_alert_open_then_resolved_and_staff_edit_a_rule(page, live_server, staff_user):  # noqa: F811
    AlertRule.objects.all().delete()
    rule = AlertRule.objects.create(name="Scans unserved", kind="no_worker", parameters={"queues": ["scans"]})
    services.alerts_evaluate()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    log_in(page, live_server, "staff", "pw-staff-123")
    page.click("header >> text=Alerts")
    open_row = page.locator("#open-alerts tr[data-alert]")
    assert open_row.count() == 1 and "queue:scans" in open_row.inner_text()
    assert page.locator("#open-count").inner_text() == "1"
    page.evaluate("window.__notReloaded = true")

    # The condition stops; the next evaluation resolves the alert and the page follows on its own.
    host = WorkerHost.objects.create(id="browser:1:a", hostname="browser", pid=1)
    Worker.objects.create(id="browser:1:a/2", host=host, hostname="browser", pid=2, queues=["scans"])
    services.alerts_evaluate()
    page.locator("#alert-history tr[data-alert]", has_text="queue:scans").wait_for(timeout=30000)
    assert page.locator("#open-count").inner_text() == "0"
    assert page.evaluate("window.__notReloaded") is True

    form = page.locator(f'tr[data-rule="{rule.pk}"] form.rule-form')
    form.locator("input[name=param_queues]").fill("scans, reports")
    form.locator("input[name=email_recipients]").fill("ops@example.com")
    form.locator("button[type=submit]").click()
    page.locator(".messages li.success").wait_for(state="visible")
    rule.refresh_from_db()
    assert rule.parameters == {"queues": ["reports", "scans"]} and rule.email_recipients == ["ops@example.com"]

    page.locator(f'tr[data-rule="{rule.pk}"] button[value=disable]').click()
    page.locator(f'tr[data-rule="{rule.pk}"] button[value=enable]').wait_for(state="visible")
    rule.refresh_from_db()
    assert rule.enabled is False and Alert.objects.filter(status="open").count() == 0
    assert violations == []


def test_a_reader_sees_the_alerts_page_without_forms(page, live_server, reader_user):  # noqa: F811
    AlertRule.objects.create(name="Latency", kind="queue_latency", parameters={"max_wait_seconds": 60})
    log_in(page, live_server, "reader", "pw-reader-123")
    page.goto(live_server.url + reverse("alerts:index"))
    assert page.locator("#alert-rules tr[data-rule]").count() == AlertRule.objects.count() > 0
    assert "max_wait_seconds: 60" in page.locator("#alert-rules").inner_text()
    assert page.locator("main form[method=post], main button.act").count() == 0
