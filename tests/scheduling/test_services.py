import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.errors import NotFound, UnknownActor, ValidationFailed
from jobs.models import Job, JobStatus
from jobs.scheduling import services
from jobs.scheduling.errors import ScheduleBusy
from jobs.scheduling.models import Schedule, ScheduleRun
from jobs.scheduling.services import Outcome
from jobs.services import jobs_prune

pytestmark = pytest.mark.django_db
FIRE = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)


def create(**fields) -> Schedule:
    defaults = {"name": "every minute", "actor_name": "echo", "interval_seconds": 60, "overlap": "allow"}
    return services.schedule_create(**{**defaults, **fields})


def fire(schedule, fire_time=FIRE, **kwargs):
    return services.schedule_fire(schedule_id=schedule.pk, fire_time=fire_time, **kwargs)


# --- create, edit ---------------------------------------------------------------------------------


def test_create_plans_the_next_run():
    schedule = create(cron="*/5 * * * *", interval_seconds=None, args=[1], kwargs={"a": 2})
    assert schedule.next_run_at > timezone.now()
    assert schedule.next_run_at.minute % 5 == 0 and schedule.next_run_at.second == 0
    assert (schedule.args, schedule.kwargs, schedule.enabled) == ([1], {"a": 2}, True)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"cron": "* * *", "interval_seconds": None}, "cron", "expected 5 fields"),
        ({"cron": "99 * * * *", "interval_seconds": None}, "cron", "higher than the maximum"),
        ({"interval_seconds": 0}, "interval_seconds", "from 1 to"),
        ({"interval_seconds": -3}, "interval_seconds", "from 1 to"),
        ({"cron": "* * * * *"}, "cron", "not both"),
        ({"timezone": "Nowhere/Else"}, "timezone", "unknown time zone"),
        ({"queue_name": "nope"}, "queue", "unknown queue"),
        ({"args": {"a": 1}}, "args", "JSON array"),
        ({"kwargs": [1]}, "kwargs", "JSON object"),
        ({"misfire_grace_seconds": 0}, "misfire_grace_seconds", "from 1 to"),
        ({"overlap": "sometimes"}, "overlap", "must be one of"),
        ({"name": "  "}, "name", "blank"),
    ],
)
def test_bad_input_names_the_field_and_the_reason(fields, field, reason):
    with pytest.raises(ValidationFailed) as caught:
        create(**fields)
    assert caught.value.details["field"] == field
    assert reason in caught.value.details["reason"]
    assert Schedule.objects.filter(name="every minute").count() == 0


def test_unknown_actor_lists_the_valid_ones():
    with pytest.raises(UnknownActor) as caught:
        create(actor_name="no.such.actor")
    assert "jobs.health_check" in caught.value.details["valid_actors"]
    assert caught.value.details["field"] == "actor"


def test_names_are_unique():
    create()
    with pytest.raises(ValidationFailed) as caught:
        create()
    assert caught.value.details["field"] == "name"


def test_update_changes_the_rule_and_the_version():
    schedule = create()
    updated = services.schedule_update(schedule_id=schedule.pk, cron="0 * * * *")
    assert (updated.cron, updated.interval_seconds) == ("0 * * * *", None)
    assert updated.updated_at > schedule.updated_at
    assert updated.next_run_at.minute == 0
    back = services.schedule_update(schedule_id=schedule.pk, interval_seconds=5)
    assert (back.cron, back.interval_seconds) == ("", 5)


def test_an_unregistered_actor_can_be_kept_but_not_set_or_enabled():
    schedule = Schedule.objects.create(name="later", actor_name="reports.not_yet", interval_seconds=60, enabled=False)
    services.schedule_update(schedule_id=schedule.pk, description="waits for its actor")
    with pytest.raises(UnknownActor):
        services.schedule_update(schedule_id=schedule.pk, enabled=True)
    with pytest.raises(UnknownActor):
        services.schedule_resume(schedule_id=schedule.pk)
    other = create()
    with pytest.raises(UnknownActor):
        services.schedule_update(schedule_id=other.pk, actor_name="reports.not_yet")


def test_pause_and_resume():
    schedule = create()
    paused = services.schedule_pause(schedule_id=schedule.pk)
    assert (paused.enabled, paused.next_run_at) == (False, None)
    resumed = services.schedule_resume(schedule_id=schedule.pk)
    assert resumed.enabled and resumed.next_run_at > timezone.now()


def test_missing_schedules_are_404():
    for service in (services.schedule_pause, services.schedule_resume, services.schedule_delete):
        with pytest.raises(NotFound):
            service(schedule_id=999999)
    with pytest.raises(NotFound):
        services.schedule_update(schedule_id=999999, priority=1)


# --- firing ---------------------------------------------------------------------------------------


def test_a_fire_submits_one_job_linked_to_the_schedule():
    schedule = create(args=[1], kwargs={"x": "y"}, priority=5)
    result = fire(schedule)
    assert result.outcome == Outcome.FIRED
    job = result.job
    assert (job.actor_name, job.args, job.kwargs, job.priority) == ("echo", [1], {"x": "y"}, 5)
    assert job.idempotency_key == f"schedule:{schedule.pk}:2025-01-06T10:00:00+00:00"
    run = ScheduleRun.objects.get(schedule=schedule)
    assert (run.fire_time, run.job_id, run.manual) == (FIRE, job.pk, False)
    schedule.refresh_from_db()
    assert (schedule.last_job_id, schedule.last_run_at) == (job.pk, FIRE)
    assert schedule.next_run_at == FIRE + timedelta(minutes=1)


def test_a_fire_time_never_yields_two_jobs_even_after_its_job_finished():
    schedule = create()
    first = fire(schedule)
    again = fire(schedule)
    assert again.outcome == Outcome.ALREADY_FIRED and again.job.pk == first.job.pk
    # The engine's idempotency key only covers live jobs; the run table covers the rest.
    Job.objects.filter(pk=first.job.pk).update(status=JobStatus.SUCCEEDED)
    assert fire(schedule).outcome == Outcome.ALREADY_FIRED
    assert fire(schedule, fire_time=FIRE.astimezone(timezone.get_fixed_timezone(120))).outcome == Outcome.ALREADY_FIRED
    assert Job.objects.count() == 1 and ScheduleRun.objects.count() == 1


def test_fires_do_not_touch_the_version_the_scheduler_diffs_on():
    schedule = create()
    fire(schedule, version=schedule.updated_at)
    assert Schedule.objects.get(pk=schedule.pk).updated_at == schedule.updated_at


def test_a_fire_planned_from_an_older_version_is_dropped():
    schedule = create()
    old_version = schedule.updated_at
    services.schedule_update(schedule_id=schedule.pk, interval_seconds=3600)
    assert fire(schedule, version=old_version).outcome == Outcome.STALE
    assert Job.objects.count() == 0


def test_a_paused_schedule_does_not_fire_but_runs_when_asked():
    schedule = create()
    services.schedule_pause(schedule_id=schedule.pk)
    assert fire(schedule).outcome == Outcome.DISABLED
    job = services.schedule_run_now(schedule_id=schedule.pk)
    assert ScheduleRun.objects.get(job=job).manual
    assert Schedule.objects.get(pk=schedule.pk).next_run_at is None


def test_overlap_skip_waits_for_the_previous_job():
    schedule = create(overlap="skip")
    first = fire(schedule)
    second = fire(schedule, fire_time=FIRE + timedelta(minutes=1))
    assert second.outcome == Outcome.SKIPPED and second.previous_job_id == first.job.pk
    with pytest.raises(ScheduleBusy) as caught:
        services.schedule_run_now(schedule_id=schedule.pk)
    assert caught.value.status_code == 409
    Job.objects.filter(pk=first.job.pk).update(status=JobStatus.FAILED)
    assert fire(schedule, fire_time=FIRE + timedelta(minutes=2)).outcome == Outcome.FIRED


def test_overlap_allow_lets_jobs_pile_up():
    schedule = create(overlap="allow")
    assert fire(schedule).outcome == Outcome.FIRED
    assert fire(schedule, fire_time=FIRE + timedelta(minutes=1)).outcome == Outcome.FIRED


def test_an_unregistered_actor_fails_the_fire_and_writes_nothing():
    schedule = Schedule.objects.create(name="later", actor_name="reports.not_yet", interval_seconds=60)
    with pytest.raises(UnknownActor):
        fire(schedule)
    with pytest.raises(UnknownActor):
        services.schedule_run_now(schedule_id=schedule.pk)
    assert ScheduleRun.objects.count() == 0 and Job.objects.count() == 0


def test_a_deleted_schedule_is_reported_missing():
    schedule = create()
    services.schedule_delete(schedule_id=schedule.pk)
    assert fire(schedule).outcome == Outcome.MISSING


def test_record_next_run_leaves_edited_schedules_and_the_version_alone():
    schedule = create()
    later = FIRE + timedelta(days=1)
    assert services.schedule_record_next_run(schedule_id=schedule.pk, version=schedule.updated_at, next_run_at=later)
    stored = Schedule.objects.get(pk=schedule.pk)
    assert (stored.next_run_at, stored.updated_at) == (later, schedule.updated_at)
    assert not services.schedule_record_next_run(
        schedule_id=schedule.pk, version=schedule.updated_at - timedelta(seconds=1), next_run_at=FIRE
    )


def test_pruning_a_job_prunes_its_run_and_unlinks_the_schedule():
    schedule = create()
    job = fire(schedule).job
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now() - timedelta(days=90))
    jobs_prune(older_than_days=30)
    assert not Job.objects.filter(pk=job.pk).exists() and ScheduleRun.objects.count() == 0
    assert Schedule.objects.get(pk=schedule.pk).last_job_id is None


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_firing_the_same_time_at_once_make_one_job():
    """What the lease normally prevents, the database refuses: eight concurrent fires, one job."""
    schedule = create()
    barrier = threading.Barrier(8)
    outcomes = []

    def fire_in_thread():
        try:
            barrier.wait()
            outcomes.append(fire(schedule).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire_in_thread) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([Outcome.FIRED] + [Outcome.ALREADY_FIRED] * 7)
    assert Job.objects.count() == 1 and ScheduleRun.objects.count() == 1
