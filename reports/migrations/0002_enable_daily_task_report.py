"""The built-in daily task execution report schedule, now that its actor exists."""

from django.db import migrations
from django.utils import timezone

NAME = "Task execution report"


def enable(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    Schedule.objects.filter(name=NAME, actor_name="reports.generate_task_report").update(
        actor_name="reports.request_daily_task_report",
        enabled=True,
        updated_at=timezone.now(),
        description="Daily task execution report over the last 24 hours (per actor and queue), as CSV + JSON.",
    )


def disable(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    Schedule.objects.filter(name=NAME, actor_name="reports.request_daily_task_report").update(
        actor_name="reports.generate_task_report", enabled=False
    )


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("jobs", "0003_builtin_schedules")]
    operations = [migrations.RunPython(enable, disable)]
