import pytest
from django.test import Client

from jobs.audit.models import AuditEntry
from jobs.controls.models import ActorControl, QueueControl

pytestmark = pytest.mark.django_db


def test_staff_see_pause_buttons_and_limit_forms(staff_browser):
    page = staff_browser.get("/queues/").content.decode()
    assert 'value="pause"' in page and 'name="max_concurrency"' in page and "csrfmiddlewaretoken" in page


def test_readers_see_the_controls_without_forms(reader_browser):
    page = reader_browser.get("/queues/").content.decode()
    assert "reports" in page and 'value="pause"' not in page and "<form" not in page.split("<h1>Queues")[1]


def test_pause_resume_and_limits_from_the_page(staff_browser):
    assert staff_browser.post("/queues/reports/action", {"action": "pause"}).status_code == 302
    assert QueueControl.objects.get(queue_name="reports").paused
    assert "paused" in staff_browser.get("/queues/").content.decode()
    staff_browser.post("/queues/reports/action", {"action": "resume"})
    assert not QueueControl.objects.get(queue_name="reports").paused
    staff_browser.post(
        "/queues/reports/action", {"action": "limits", "max_concurrency": "2", "rate_limit": "", "ready_window": ""}
    )
    control = QueueControl.objects.get(queue_name="reports")
    assert (control.max_concurrency, control.rate_limit, control.rate_period) == (2, None, 1.0)
    staff_browser.post("/queues/actors/echo/limits", {"rate_limit": "7", "rate_period": "2"})
    assert ActorControl.objects.get(actor_name="echo").rate_limit == 7
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["queue.pause", "queue.resume", "queue.limit", "actor.limit"]


def test_a_bad_limit_is_reported_not_saved(staff_browser):
    response = staff_browser.post("/queues/reports/action", {"action": "limits", "max_concurrency": "0"}, follow=True)
    assert "max_concurrency" in response.content.decode()
    assert not QueueControl.objects.exists()


def test_the_page_forms_need_the_csrf_token(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post("/queues/reports/action", {"action": "pause"}).status_code == 403
    assert not QueueControl.objects.exists()


def test_a_paused_queue_shows_on_the_overview_and_in_the_queue_list(staff_browser, staff_client):
    from jobs.controls import services

    assert 'class="warn">paused' not in staff_browser.get("/").content.decode()
    services.queue_pause(queue_name="reports")
    assert 'reports</a> <span class="warn">paused</span>' in staff_browser.get("/").content.decode()
    rows = {row["name"]: row for row in staff_client.get("/api/v1/queues").json()}
    assert rows["reports"]["paused"] is True and rows["default"]["paused"] is False
