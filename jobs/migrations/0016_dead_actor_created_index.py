"""Failed or cancelled jobs of one actor, newest first (the job list filtered by status and actor),
built without blocking writes on PostgreSQL. Written only when a job fails or is cancelled."""

from django.db import migrations, models

from jobs.migration_operations import AddIndexConcurrentlyWherePossible


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("jobs", "0015_dead_search_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyWherePossible(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status__in", ["failed", "cancelled"])),
                fields=["actor_name", "-created_at", "-id"],
                name="job_dead_actor_created_idx",
            ),
        ),
    ]
