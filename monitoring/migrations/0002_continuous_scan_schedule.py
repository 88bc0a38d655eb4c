"""The built-in continuous monitoring schedule: an incremental scan every 5 minutes.

An ordinary schedule row afterwards: edit, pause or delete it freely (the API, the admin, the page).
"""

from django.db import migrations

NAME = "Continuous monitoring scan"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "description": (
                "Evaluates the rules of every enabled policy on the records changed since the last scan "
                "(and on every record of a policy whose rules changed)."
            ),
            "actor_name": "monitoring.continuous_scan",
            "cron": "",
            "interval_seconds": 300,
            "timezone": "UTC",
            "enabled": True,
            "queue_name": "scans",
            "overlap": "skip",
            "coalesce": True,
            "misfire_grace_seconds": 300,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
        ("jobs", "0003_builtin_schedules"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
