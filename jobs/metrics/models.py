"""Rollups of finished jobs: one row per (resolution, bucket, queue, actor).

Rows with ``queue_name = ""`` or ``actor_name = ""`` (ALL) hold the same bucket summed over every
queue or every actor, written alongside the per-pair rows: any chart (all, one queue, one actor)
then reads one row per bucket through the unique index, at any number of queues and actors.
The ("", "") row of a bucket is written even when nothing finished in it: it marks the bucket done.
"""

from datetime import timedelta

from django.db import models

ALL = ""


class Resolution(models.IntegerChoices):
    MINUTE = 60, "minute"
    HOUR = 3600, "hour"


RETENTION = {
    Resolution.MINUTE: timedelta(hours=25),
    Resolution.HOUR: timedelta(days=90),
}


class MetricRollup(models.Model):
    resolution = models.PositiveIntegerField(choices=Resolution.choices)
    bucket = models.DateTimeField(help_text="Start of the minute or hour.")
    queue_name = models.CharField(max_length=100, blank=True, help_text='"" for every queue')
    actor_name = models.CharField(max_length=200, blank=True, help_text='"" for every actor')
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # {"<bucket>": count} of jobs.metrics.histogram's log-scale buckets, empty ones left out.
    wait_histogram = models.JSONField(default=dict, help_text="Enqueued → started, per log-scale bucket.")
    run_histogram = models.JSONField(default=dict, help_text="Started → finished, per log-scale bucket.")

    class Meta:
        app_label = "jobs"
        constraints = [
            models.UniqueConstraint(
                fields=["resolution", "queue_name", "actor_name", "bucket"], name="metric_rollup_series_uniq"
            )
        ]
        indexes = [
            # Retention deletes a span of buckets across series.
            models.Index(fields=["resolution", "bucket"], name="metric_rollup_bucket_idx"),
            # The breakdown tables sum a span of the per-queue or per-actor ALL rows: index-only.
            models.Index(
                fields=["resolution", "bucket"],
                include=["queue_name", "succeeded", "failed"],
                condition=models.Q(actor_name=""),
                name="metric_rollup_queues_idx",
            ),
            models.Index(
                fields=["resolution", "bucket"],
                include=["actor_name", "succeeded", "failed"],
                condition=models.Q(queue_name=""),
                name="metric_rollup_actors_idx",
            ),
        ]

    def __str__(self):
        return f"{self.get_resolution_display()} {self.bucket:%Y-%m-%d %H:%M} {self.queue_name}/{self.actor_name}"
