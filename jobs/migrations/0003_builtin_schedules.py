"""The built-in schedules. They are ordinary rows afterwards: edit, pause or delete them freely.

Continuous monitoring scans and file cleanup come with their own issues and their own migrations.
"""

from django.db import migrations

BUILTIN_SCHEDULES = [
    {
        "name": "Job recovery",
        "description": "Relays jobs whose message never reached the broker and reaps jobs of dead workers.",
        "actor_name": "jobs.recover",
        "interval_seconds": 30,
        "queue_name": "maintenance",
        "misfire_grace_seconds": 30,
    },
    {
        "name": "Prune old jobs",
        "description": "Deletes finished jobs past the retention window (JOBS_RETENTION_DAYS).",
        "actor_name": "jobs.prune",
        "cron": "30 3 * * *",
        "queue_name": "maintenance",
        "misfire_grace_seconds": 6 * 3600,
    },
    {
        "name": "System health check",
        "description": "Records the health of the database, Redis, workers and scheduler as the job result.",
        "actor_name": "jobs.health_check",
        "cron": "* * * * *",
        "queue_name": "maintenance",
        "misfire_grace_seconds": 60,
    },
    {
        "name": "Task execution report",
        "description": (
            "Daily task execution report. Disabled until the reports issue registers the actor "
            "reports.generate_task_report: resume it then (the API and admin refuse while it is unknown)."
        ),
        "actor_name": "reports.generate_task_report",
        "cron": "0 6 * * *",
        "queue_name": "reports",
        "enabled": False,
        "misfire_grace_seconds": 6 * 3600,
    },
]


def create_builtin_schedules(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    for spec in BUILTIN_SCHEDULES:
        fields = {
            "cron": "",
            "interval_seconds": None,
            "timezone": "UTC",
            "enabled": True,
            "overlap": "skip",
            "coalesce": True,
            **spec,
        }
        name = fields.pop("name")
        Schedule.objects.get_or_create(name=name, defaults=fields)


def delete_builtin_schedules(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    Schedule.objects.filter(name__in=[spec["name"] for spec in BUILTIN_SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_schedules"),
    ]

    operations = [
        migrations.RunPython(create_builtin_schedules, delete_builtin_schedules),
    ]
