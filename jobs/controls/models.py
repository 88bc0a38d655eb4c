"""Controls kept in the database: one row per queue or actor that has one (no row: no control).

Rows are written only by ``jobs.controls.services`` (each change audited); workers and publishers
read them through the per-process cache in ``jobs.controls.gate`` (refreshed at least every second).
"""

from django.db import models
from django.db.models import Q


class QueueControl(models.Model):
    queue_name = models.CharField(max_length=100, unique=True)
    paused = models.BooleanField(default=False, help_text="Accepts jobs but starts none; running ones finish.")
    paused_at = models.DateTimeField(null=True, blank=True)
    max_concurrency = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many of the queue's jobs running at once, on all hosts."
    )
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many starts in any window of rate_period seconds."
    )
    rate_period = models.FloatField(default=1.0)
    ready_window = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many messages wait in Redis; the rest wait in the database, highest priority first.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["queue_name"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_period__gt=0), name="queue_control_rate_period_positive"),
        ]

    def __str__(self):
        return self.queue_name


class ActorControl(models.Model):
    actor_name = models.CharField(max_length=200, unique=True)
    max_concurrency = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many of the actor's jobs running at once, on all hosts."
    )
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many starts in any window of rate_period seconds."
    )
    rate_period = models.FloatField(default=1.0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["actor_name"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_period__gt=0), name="actor_control_rate_period_positive"),
        ]

    def __str__(self):
        return self.actor_name
