import importlib

import pytest
from django.apps import apps

from jobs import registry
from jobs.scheduling import triggers
from jobs.scheduling.models import Schedule

builtin = importlib.import_module("monitoring.migrations.0002_continuous_scan_schedule")


@pytest.mark.django_db
def test_the_continuous_scan_schedule_is_built_in_every_5_minutes_and_rerunning_adds_nothing():
    schedule = Schedule.objects.get(actor_name="monitoring.continuous_scan")  # from the migration itself
    assert (schedule.interval_seconds, schedule.cron, schedule.queue_name) == (300, "", "scans")
    assert schedule.enabled and schedule.overlap == "skip" and schedule.coalesce
    assert registry.get_spec(schedule.actor_name).queue_name == "scans"
    triggers.trigger_of(schedule)  # a valid trigger
    builtin.create_schedule(apps, None)
    assert Schedule.objects.filter(actor_name="monitoring.continuous_scan").count() == 1
