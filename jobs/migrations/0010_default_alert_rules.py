"""The default alert rules, and the built-in schedule that evaluates them every minute.

Both are ordinary rows afterwards: edit thresholds, channels or state in the dashboard, the API or
the admin. The rules start without recipients: name who is told per rule.
"""

from django.db import migrations

DEFAULT_RULES = [
    {
        "name": "Job stuck past its time limit",
        "kind": "stuck_job",
        "description": "A job still running two minutes after its actor's time limit: the engine's hard limit did not end it.",
        "parameters": {"grace_seconds": 120},
    },
    {
        "name": "Queue latency",
        "kind": "queue_latency",
        "description": "The oldest job waiting in a queue has waited more than five minutes.",
        "parameters": {"max_wait_seconds": 300, "queues": []},
    },
    {
        "name": "Actor failure rate",
        "kind": "failure_rate",
        "description": "More than half of an actor's jobs finished in the last 15 minutes failed (10 jobs at least).",
        "parameters": {"threshold_percent": 50, "window_minutes": 15, "min_jobs": 10},
    },
    {
        "name": "Schedule missed a fire",
        "kind": "missed_schedule",
        "description": "An active schedule's next fire time passed more than two minutes ago.",
        "parameters": {"grace_seconds": 120},
    },
    {
        "name": "No worker for a queue",
        "kind": "no_worker",
        "description": "No live worker process serves a queue.",
        "parameters": {"queues": []},
    },
]

SCHEDULE = {
    "name": "Alert evaluation",
    "description": "Evaluates the alert rules: opens, keeps and resolves alerts, and sends their notifications.",
    "actor_name": "alerts.evaluate",
    "cron": "* * * * *",
    "interval_seconds": None,
    "timezone": "UTC",
    "queue_name": "maintenance",
    "enabled": True,
    "overlap": "skip",
    "coalesce": True,
    "misfire_grace_seconds": 60,
}


def create_defaults(apps, schema_editor):
    AlertRule = apps.get_model("jobs", "AlertRule")
    Schedule = apps.get_model("jobs", "Schedule")
    for spec in DEFAULT_RULES:
        fields = dict(spec)
        AlertRule.objects.get_or_create(name=fields.pop("name"), defaults=fields)
    fields = dict(SCHEDULE)
    Schedule.objects.get_or_create(name=fields.pop("name"), defaults=fields)


def delete_defaults(apps, schema_editor):
    apps.get_model("jobs", "AlertRule").objects.filter(name__in=[r["name"] for r in DEFAULT_RULES]).delete()
    apps.get_model("jobs", "Schedule").objects.filter(name=SCHEDULE["name"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0009_alerts"),
    ]

    operations = [
        migrations.RunPython(create_defaults, delete_defaults),
    ]
