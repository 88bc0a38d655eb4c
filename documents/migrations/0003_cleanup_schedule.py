"""The built-in daily cleanup of documents past the retention window (DOCUMENTS_RETENTION_DAYS)."""

from django.db import migrations

NAME = "Clean up old documents"


def create(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "description": (
                "Deletes stored files and rows of documents processed before the retention window "
                "(DOCUMENTS_RETENTION_DAYS; 0 keeps everything)."
            ),
            "actor_name": "documents.cleanup_old_processed_files",
            "cron": "45 3 * * *",
            "interval_seconds": None,
            "timezone": "UTC",
            "enabled": True,
            "queue_name": "documents",
            "overlap": "skip",
            "coalesce": True,
            "misfire_grace_seconds": 6 * 3600,
        },
    )


def delete(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("documents", "0002_search_vector_gin"), ("jobs", "0003_builtin_schedules")]
    operations = [migrations.RunPython(create, delete)]
