"""Acceptance of the scheduler: real ``run_scheduler`` processes, real Redis, the real test database.

Figures (edit pickup, takeover) are printed: run with ``-s`` to see them.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.scheduling import services
from jobs.scheduling.models import Schedule, ScheduleRun
from jobs.selectors import scheduler_status
from tests.scheduling.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SECOND = timedelta(seconds=1)
FAR = 10**7  # an interval whose epoch-aligned fire times are months apart


@pytest.fixture(autouse=True)
def no_other_schedules():
    Schedule.objects.all().delete()  # the built-in ones would fire too


def create(name, **fields) -> Schedule:
    return services.schedule_create(name=name, actor_name=fields.pop("actor_name", "echo"), overlap="allow", **fields)


def fire_times(schedule, **filters) -> list[datetime]:
    return list(
        ScheduleRun.objects.filter(schedule=schedule, **filters)
        .order_by("fire_time")
        .values_list("fire_time", flat=True)
    )


def assert_contiguous(times: list[datetime]) -> None:
    assert times, "no fire times"
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [SECOND] * (len(times) - 1), times


def test_a_one_second_schedule_fires_and_its_jobs_run_linked_to_it(start_worker, start_scheduler):
    schedule = create("every second", actor_name="t.record", args=[7], interval_seconds=1)
    start_worker(threads=2)
    start_scheduler(SCHEDULER_SYNC_INTERVAL=1)
    wait_for(
        lambda: ScheduleRun.objects.filter(schedule=schedule, job__status=JobStatus.SUCCEEDED).count() >= 3,
        timeout=20,
        message="three succeeded jobs of the schedule",
    )
    runs = list(ScheduleRun.objects.filter(schedule=schedule).select_related("job").order_by("fire_time"))
    assert_contiguous([run.fire_time for run in runs])
    for run in runs:
        assert run.job.actor_name == "t.record" and not run.manual
        assert run.job.idempotency_key == services.idempotency_key(schedule.pk, run.fire_time)
    assert {run.job.result for run in runs if run.job.status == JobStatus.SUCCEEDED} == {7}
    schedule.refresh_from_db()
    assert ScheduleRun.objects.get(schedule=schedule, fire_time=schedule.last_run_at).job_id == schedule.last_job_id
    assert scheduler_status()["ok"]


def test_edits_and_pauses_take_effect_within_ten_seconds_without_a_restart(start_scheduler):
    slow = create("slow, then every second", interval_seconds=FAR)
    fast = create("every second, then paused", interval_seconds=1)
    scheduler = start_scheduler()  # the default sync interval
    scheduler.wait_active()
    wait_for(lambda: len(fire_times(fast)) >= 2, timeout=10, message="the fast schedule to fire")

    edited_at = timezone.now()
    services.schedule_update(schedule_id=slow.pk, interval_seconds=1)
    services.schedule_pause(schedule_id=fast.pk)
    first = wait_for(
        lambda: ScheduleRun.objects.filter(schedule=slow).order_by("created_at").first(),
        timeout=12,
        message="the shortened schedule to fire",
    )
    pickup = (first.created_at - edited_at).total_seconds()
    print(f"\nshortened interval picked up after {pickup:.2f} s")
    assert pickup < 10
    assert not fire_times(fast, created_at__gt=edited_at + SECOND / 2)  # paused at once

    lengthened_at = timezone.now()
    services.schedule_update(schedule_id=slow.pk, interval_seconds=FAR)
    time.sleep(2.5)
    assert not fire_times(slow, created_at__gt=lengthened_at + SECOND / 2)  # lengthened at once
    assert scheduler.alive()


def test_two_schedulers_fire_each_time_once_and_the_standby_takes_over(start_scheduler):
    schedule = create("ha", interval_seconds=1, coalesce=True, misfire_grace_seconds=60)
    first, second = start_scheduler(), start_scheduler()
    wait_for(lambda: first.is_active() or second.is_active(), timeout=15, message="a leader")
    wait_for(lambda: fire_times(schedule), timeout=10, message="a first fire")
    leaders = set()
    for _ in range(20):  # side by side for 20 s
        leaders.add(first.is_active())
        assert first.alive() and second.alive()
        time.sleep(1)
    assert len(leaders) == 1  # the same process led throughout
    side_by_side = fire_times(schedule)
    assert len(side_by_side) >= 19
    assert_contiguous(side_by_side)  # every second exactly once: no gap, no double

    active, standby = (first, second) if first.is_active() else (second, first)
    killed_at = timezone.now()
    active.kill()
    last_before = max(fire_times(schedule))
    standby.wait_active(timeout=30)
    after = wait_for(
        lambda: ScheduleRun.objects.filter(schedule=schedule, created_at__gt=killed_at).order_by("fire_time").first(),
        timeout=30,
        message="the standby to fire",
    )
    takeover = (after.created_at - killed_at).total_seconds()
    print(f"\ntakeover after SIGKILL of the leader: {takeover:.2f} s")
    assert takeover < 30
    wait_for(lambda: len(fire_times(schedule, fire_time__gt=after.fire_time)) >= 2, timeout=5, message="more fires")
    # Coalesced: the fire times missed during the takeover left a gap, then one fire per second again.
    resumed = fire_times(schedule, fire_time__gt=last_before)
    assert resumed[0] - last_before > 5 * SECOND
    assert_contiguous(resumed)
    assert Job.objects.filter(actor_name="echo").count() == ScheduleRun.objects.count()
    assert len(set(Job.objects.values_list("idempotency_key", flat=True))) == Job.objects.count()


def test_a_scheduler_down_across_fire_times_catches_up_per_policy(start_scheduler):
    each_second = create("each second", interval_seconds=1, coalesce=False, misfire_grace_seconds=60)
    first = start_scheduler()
    first.wait_active()
    wait_for(lambda: len(fire_times(each_second)) >= 2, timeout=10, message="fires before the outage")
    first.stop()
    last_before = max(fire_times(each_second))

    # Two minutely schedules as a scheduler that died 3.5 minutes ago leaves them: their next run
    # recorded three or four fire times back.
    now = datetime.now(UTC)
    recorded = now.replace(second=0, microsecond=0) - timedelta(minutes=3)
    coalescing = create("minutely, coalescing", interval_seconds=60, coalesce=True, misfire_grace_seconds=600)
    each_minute = create("minutely, each", interval_seconds=60, coalesce=False, misfire_grace_seconds=600)
    Schedule.objects.filter(pk__in=[coalescing.pk, each_minute.pk]).update(next_run_at=recorded)
    time.sleep(3.5)

    second = start_scheduler()
    back_at = datetime.fromtimestamp(second.wait_active(), UTC)
    missed_minutes = []
    moment = recorded
    while moment <= back_at:
        missed_minutes.append(moment)
        moment += timedelta(minutes=1)
    assert len(missed_minutes) >= 3
    wait_for(lambda: len(fire_times(each_minute)) >= len(missed_minutes), timeout=10, message="the catch-up")
    wait_for(lambda: fire_times(each_second, fire_time__gt=back_at + SECOND), timeout=5, message="regular fires")
    time.sleep(0.5)

    # (Fire times after back_at are regular ones: the test may cross a minute.)
    assert fire_times(coalescing, fire_time__lte=back_at) == [missed_minutes[-1]]  # once, the latest
    assert fire_times(each_minute, fire_time__lte=back_at) == missed_minutes  # once each
    # The real outage of the one-second schedule: every fire time it missed ran once, late.
    resumed = fire_times(each_second, fire_time__gt=last_before)
    assert resumed[0] == last_before + SECOND and len(resumed) >= 5
    assert_contiguous(resumed)
