"""The dead letters page's index: failed jobs by (actor, error type, finish time), built without
blocking writes on PostgreSQL."""

from django.db import migrations, models

from jobs.migration_operations import AddIndexConcurrentlyWherePossible


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("jobs", "0013_attempt_usage_and_worker_memory"),
    ]

    operations = [
        AddIndexConcurrentlyWherePossible(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status", "failed")),
                fields=["actor_name", "error_type", "finished_at"],
                name="job_dead_group_idx",
            ),
        ),
    ]
