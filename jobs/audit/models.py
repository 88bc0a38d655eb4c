"""One row per operator action; kept apart from jobs so pruning jobs never erases who did what."""

from django.conf import settings
from django.db import models
from django.utils.timezone import now


class AuditEntry(models.Model):
    at = models.DateTimeField(default=now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept beside the foreign key: the name stays readable after the user is deleted.
    username = models.CharField(max_length=150, blank=True, default="")
    # Dotted verb, e.g. "job.retry", "jobs.bulk_cancel", "queue.pause", "schedule.update".
    action = models.CharField(max_length=64, db_index=True)
    # What was acted on: ("job", "<uuid>"), ("queue", "reports"), ("schedule", "12"), ("filter", "").
    target_type = models.CharField(max_length=32, blank=True, default="")
    target_id = models.CharField(max_length=200, blank=True, default="")
    count = models.PositiveIntegerField(default=1, help_text="How many jobs (or objects) the action touched.")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-at"], name="audit_target")]

    def __str__(self):
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or 'system'} {self.action} {self.target_type}:{self.target_id}"
        )
