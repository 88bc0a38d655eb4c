import pytest

from jobs.audit.models import AuditEntry
from jobs.scheduling.models import Schedule

pytestmark = pytest.mark.django_db

FORM = {
    "name": "nightly",
    "actor_name": "echo",
    "args": "[1]",
    "kwargs": "{}",
    "cron": "0 3 * * *",
    "interval_seconds": "",
    "timezone": "UTC",
    "enabled": "on",
    "priority": "0",
    "overlap": "skip",
    "misfire_grace_seconds": "300",
}


def test_create_shows_a_bad_cron_in_the_form_then_saves_a_good_one(staff_browser, staff_user):
    bad = staff_browser.post("/schedules/new", {**FORM, "cron": "61 * * * *"})
    assert bad.status_code == 200 and b"field-error" in bad.content
    assert not Schedule.objects.filter(name="nightly").exists()
    good = staff_browser.post("/schedules/new", FORM)
    assert good.status_code == 302 and good["Location"] == "/schedules/"
    schedule = Schedule.objects.get(name="nightly")
    assert (schedule.cron, schedule.args, schedule.enabled) == ("0 3 * * *", [1], True)
    entry = AuditEntry.objects.get(action="schedule.create")
    assert entry.user == staff_user and entry.target_id == str(schedule.pk)


def test_preview_shows_the_next_five_fire_times_without_saving(staff_browser):
    page = staff_browser.post("/schedules/new", {**FORM, "preview": "1"}).content.decode()
    assert page.count(" 03:00:00 UTC</li>") == 5
    assert not Schedule.objects.filter(name="nightly").exists()


def test_edit_pause_run_and_delete_from_the_dashboard(staff_browser):
    schedule = Schedule.objects.create(name="every-minute", actor_name="echo", interval_seconds=60)
    page = staff_browser.get(f"/schedules/{schedule.pk}/edit").content.decode()
    assert page.count("<li>") >= 5 and "every-minute" in page
    edited = staff_browser.post(f"/schedules/{schedule.pk}/edit", {**FORM, "name": "every-minute", "priority": "4"})
    assert edited.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.priority, schedule.cron, schedule.interval_seconds) == (4, "0 3 * * *", None)
    for action in ("pause", "resume", "run", "delete"):
        assert staff_browser.post(f"/schedules/{schedule.pk}/action", {"action": action}).status_code == 302
    assert not Schedule.objects.filter(pk=schedule.pk).exists()
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "schedule.update",
        "schedule.pause",
        "schedule.resume",
        "schedule.run_now",
        "schedule.delete",
    ]
    assert staff_browser.get(f"/schedules/{schedule.pk}/edit").status_code == 404
