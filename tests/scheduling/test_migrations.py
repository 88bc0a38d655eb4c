import importlib

import pytest
from django.apps import apps

from jobs import registry
from jobs.scheduling import triggers
from jobs.scheduling.models import Schedule

builtin = importlib.import_module("jobs.migrations.0003_builtin_schedules")


@pytest.mark.django_db
def test_builtin_schedules_are_valid_rows_and_rerunning_adds_nothing():
    Schedule.objects.all().delete()
    builtin.create_builtin_schedules(apps, None)
    builtin.create_builtin_schedules(apps, None)
    rows = {s.actor_name: s for s in Schedule.objects.all()}
    assert set(rows) == {"jobs.recover", "jobs.prune", "jobs.health_check", "reports.generate_task_report"}
    assert rows["jobs.recover"].interval_seconds == 30 and rows["jobs.recover"].enabled
    assert rows["jobs.health_check"].cron == "* * * * *" and rows["jobs.health_check"].enabled
    assert rows["jobs.prune"].enabled
    assert not rows["reports.generate_task_report"].enabled
    for schedule in rows.values():
        triggers.trigger_of(schedule)  # a valid rule
        if schedule.enabled:
            assert registry.get_spec(schedule.actor_name) is not None
