"""The Queues page in a real browser (fixtures shared with test_browser.py)."""

import pytest

from jobs.audit.models import AuditEntry
from jobs.controls.models import QueueControl
from tests.dashboard.test_browser import CHROMIUM, MISSING, browser, log_in, page  # noqa: F401

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]


def test_staff_pause_resume_and_limit_a_queue_from_the_queues_page(page, live_server, staff_user):  # noqa: F811
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server, "staff", "pw-staff-123")
    page.click("nav >> text=Queues")
    row = page.locator("tr", has=page.locator("td", has_text="reports")).first
    row.locator("button[value=pause]").click()
    page.wait_for_load_state("networkidle")
    row = page.locator("tr", has=page.locator("td", has_text="reports")).first
    assert row.locator("td.warn").inner_text() == "paused"
    row.locator("input[name=max_concurrency]").fill("3")
    row.locator("button[value=limits]").click()
    page.wait_for_load_state("networkidle")
    row = page.locator("tr", has=page.locator("td", has_text="reports")).first
    assert row.locator("input[name=max_concurrency]").input_value() == "3"
    row.locator("button[value=resume]").click()
    page.wait_for_load_state("networkidle")
    control = QueueControl.objects.get(queue_name="reports")
    assert (control.paused, control.max_concurrency) == (False, 3)
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "queue.pause",
        "queue.limit",
        "queue.resume",
    ]
    assert violations == []
