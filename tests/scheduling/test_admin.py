import pytest
from django.contrib.auth import get_user_model

from jobs.scheduling import services
from jobs.scheduling.models import Schedule, ScheduleRun
from tests.scheduling.factories import ScheduleFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/jobs/schedule/"


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(user)
    return client


def form_data(**fields):
    data = {
        "name": "nightly",
        "description": "",
        "actor_name": "echo",
        "args": "[]",
        "kwargs": "{}",
        "cron": "0 9 * * 1-5",
        "interval_seconds": "",
        "timezone": "UTC",
        "enabled": "on",
        "queue_name": "",
        "priority": "0",
        "overlap": "skip",
        "misfire_grace_seconds": "300",
        "coalesce": "on",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def test_changelist_shows_rules_in_words_and_last_job_status(admin_client):
    schedule = ScheduleFactory(cron="*/5 * * * *", interval_seconds=None, name="scan")
    services.schedule_run_now(schedule_id=schedule.pk)
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"Every 5 minutes" in response.content and b"pending" in response.content


def test_change_page_shows_the_next_five_fire_times(admin_client):
    schedule = ScheduleFactory(cron="0 9 * * 1-5", interval_seconds=None)
    response = admin_client.get(f"{CHANGELIST}{schedule.pk}/change/")
    assert response.status_code == 200
    assert b"At 09:00, Monday through Friday" in response.content
    assert response.content.count(b"T09:00:00+00:00</li>") == 5


def test_adding_goes_through_the_services(admin_client):
    response = admin_client.post(f"{CHANGELIST}add/", form_data(args="", kwargs=""))
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = Schedule.objects.get(name="nightly")
    assert schedule.next_run_at is not None and schedule.next_run_at.hour == 9
    assert (schedule.args, schedule.kwargs) == ([], {})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cron": "0 9 * *"}, b"expected 5 fields"),
        ({"cron": "", "interval_seconds": "0"}, b"interval_seconds"),
        ({"actor_name": "no.such.actor"}, b"Valid actors"),
        ({"cron": "0 0 1 * 1"}, b"not both"),
    ],
)
def test_bad_input_is_shown_on_the_form(admin_client, fields, message):
    response = admin_client.post(f"{CHANGELIST}add/", form_data(**fields))
    assert response.status_code == 200
    assert message in response.content
    assert not Schedule.objects.filter(name="nightly").exists()


def test_editing_an_interval_recomputes_the_next_run(admin_client):
    schedule = ScheduleFactory(name="nightly", interval_seconds=3600)
    before = schedule.updated_at
    response = admin_client.post(
        f"{CHANGELIST}{schedule.pk}/change/", form_data(cron="", interval_seconds="5", overlap="allow")
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.interval_seconds == 5 and schedule.updated_at > before and schedule.next_run_at is not None


def test_actions_pause_resume_and_run_now(admin_client):
    schedule = ScheduleFactory()
    for action in ("pause_selected", "resume_selected", "run_selected_now"):
        response = admin_client.post(CHANGELIST, {"action": action, "_selected_action": [schedule.pk]})
        assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.enabled and ScheduleRun.objects.filter(schedule=schedule, manual=True).count() == 1


def test_the_admin_refuses_internal_actors_and_keeps_a_built_in_schedules_arguments(admin_client):
    add = admin_client.post(
        "/admin/jobs/schedule/add/", form_data(name="sneaky", actor_name="jobs.prune", kwargs='{"older_than_days": -1}')
    )
    assert add.status_code == 200 and b"internal" in add.content
    assert not Schedule.objects.filter(name="sneaky").exists()
    prune = Schedule.objects.get(name="Prune old jobs")
    change = admin_client.post(
        f"/admin/jobs/schedule/{prune.pk}/change/",
        form_data(
            name=prune.name,
            actor_name=prune.actor_name,
            cron=prune.cron,
            queue_name=prune.queue_name,
            misfire_grace_seconds=str(prune.misfire_grace_seconds),
            kwargs='{"older_than_days": -1}',
        ),
    )
    assert change.status_code == 200 and b"is fixed" in change.content
    prune.refresh_from_db()
    assert prune.kwargs == {}
