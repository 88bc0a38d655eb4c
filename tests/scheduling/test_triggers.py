from datetime import UTC, datetime, timedelta

import pytest

from jobs.scheduling import triggers

MONDAY = datetime(2025, 1, 6, tzinfo=UTC)


def weekdays(expression: str, count: int = 7) -> list[str]:
    trigger = triggers.cron_trigger(expression)
    return [t.strftime("%a") for t in triggers.upcoming_fire_times(trigger, count=count, now=MONDAY)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 9 * * 1", ["Mon"]),
        ("0 9 * * 0", ["Sun"]),
        ("0 9 * * 7", ["Sun"]),
        ("0 9 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("0 9 * * 5-7", ["Fri", "Sat", "Sun"]),
        ("0 9 * * */2", ["Tue", "Thu", "Sat", "Sun"]),
        ("0 9 * * mon,WED", ["Mon", "Wed"]),
    ],
)
def test_weekdays_mean_what_crontab_means_not_apscheduler_3(expression, expected):
    assert sorted(set(weekdays(expression)), key=expected.index) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * * *", "expected 5 fields"),
        ("61 * * * *", "higher than the maximum"),
        ("*/0 * * * *", "Increment must be higher than 0"),
        ("0 0 * * 8", "out of range"),
        ("0 0 * * 5-1", "runs backwards"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 1 * 1", "not both"),
        ("0 0 * * L", "invalid day of week"),
    ],
)
def test_invalid_cron_expressions_say_why(expression, reason):
    with pytest.raises(triggers.TriggerError) as caught:
        triggers.cron_trigger(expression)
    assert caught.value.field == "cron"
    assert reason in caught.value.reason


def test_cron_uses_the_schedule_time_zone():
    trigger = triggers.cron_trigger("0 9 * * *", "Europe/Paris")
    (first,) = triggers.upcoming_fire_times(trigger, count=1, now=MONDAY)
    assert first == datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def test_unknown_time_zone_names_the_field():
    with pytest.raises(triggers.TriggerError) as caught:
        triggers.cron_trigger("* * * * *", "Mars/Olympus")
    assert caught.value.field == "timezone"


@pytest.mark.parametrize("seconds", [0, -5, 1.5, "10", True, None])
def test_invalid_intervals(seconds):
    with pytest.raises(triggers.TriggerError) as caught:
        triggers.build_trigger(interval_seconds=seconds) if seconds is not None else triggers.interval_trigger(seconds)
    assert caught.value.field == "interval_seconds"


def test_intervals_are_aligned_to_the_epoch_so_every_process_agrees():
    trigger = triggers.interval_trigger(30)
    now = datetime(2025, 1, 6, 10, 0, 7, 123456, tzinfo=UTC)
    assert triggers.upcoming_fire_times(trigger, count=3, now=now) == [
        datetime(2025, 1, 6, 10, 0, 30, tzinfo=UTC),
        datetime(2025, 1, 6, 10, 1, 0, tzinfo=UTC),
        datetime(2025, 1, 6, 10, 1, 30, tzinfo=UTC),
    ]
    assert triggers.next_fire_after(trigger, datetime(2025, 1, 6, 10, 0, 30, tzinfo=UTC)) == datetime(
        2025, 1, 6, 10, 1, 0, tzinfo=UTC
    )


def test_both_or_neither_trigger_is_refused():
    with pytest.raises(triggers.TriggerError, match="not both"):
        triggers.build_trigger(cron="* * * * *", interval_seconds=5)
    with pytest.raises(triggers.TriggerError, match="either cron"):
        triggers.build_trigger()


class TestFirstRunTime:
    trigger = triggers.interval_trigger(60)
    now = datetime(2025, 1, 6, 10, 3, 30, tzinfo=UTC)

    def test_without_a_record_it_is_the_next_fire_time(self):
        assert triggers.first_run_time(self.trigger, recorded_next=None, now=self.now) == datetime(
            2025, 1, 6, 10, 4, tzinfo=UTC
        )

    def test_a_recorded_time_in_the_past_is_a_missed_fire(self):
        recorded = datetime(2025, 1, 6, 10, 1, tzinfo=UTC)  # the scheduler was down since 10:00:30
        assert triggers.first_run_time(self.trigger, recorded_next=recorded, now=self.now) == recorded

    def test_a_recorded_time_off_the_rule_snaps_to_the_rule(self):
        recorded = datetime(2025, 1, 6, 10, 1, 20, tzinfo=UTC)  # the rule changed meanwhile
        assert triggers.first_run_time(self.trigger, recorded_next=recorded, now=self.now) == datetime(
            2025, 1, 6, 10, 2, tzinfo=UTC
        )

    def test_a_recorded_time_in_the_future_yields_to_the_rule(self):
        recorded = self.now + timedelta(hours=5)  # e.g. the interval was shortened outside the services
        assert triggers.first_run_time(self.trigger, recorded_next=recorded, now=self.now) == datetime(
            2025, 1, 6, 10, 4, tzinfo=UTC
        )


def test_rules_in_words():
    assert triggers.describe(cron="*/5 * * * *") == "Every 5 minutes"
    assert triggers.describe(cron="0 9 * * 1-5") == "At 09:00, Monday through Friday"
    assert triggers.describe(interval_seconds=30) == "Every 30 seconds"
    assert triggers.describe(interval_seconds=7200) == "Every 2 hours"
    assert triggers.describe(interval_seconds=1) == "Every second"
