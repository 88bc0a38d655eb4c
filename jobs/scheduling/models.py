"""Schedules kept in the database, and one row per fire time that produced a job.

``ScheduleRun``'s unique (schedule, fire_time) is what makes a firing exactly-once: the leader
lock keeps a second scheduler idle, the constraint holds even when the lock fails.
The runtime fields of ``Schedule`` (last/next run, last job) are written with ``update()`` so that
``updated_at`` changes only when the definition does: the scheduler diffs on it.
"""

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class OverlapPolicy(models.TextChoices):
    SKIP = "skip", "Skip while the previous job is waiting or running"
    ALLOW = "allow", "Allow overlapping jobs"


class Schedule(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    actor_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)

    cron = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Five crontab fields: minute hour day-of-month month day-of-week (0 or 7 = Sunday).",
    )
    interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Instead of cron: every N seconds, aligned to the Unix epoch."
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name; applies to cron expressions.")

    enabled = models.BooleanField(default=True)
    queue_name = models.CharField(max_length=100, blank=True, default="", help_text="Blank: the actor's own queue.")
    priority = models.SmallIntegerField(default=0)
    overlap = models.CharField(max_length=8, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP)
    misfire_grace_seconds = models.PositiveIntegerField(
        default=300, help_text="A fire time missed by more than this (scheduler down) is not run late."
    )
    coalesce = models.BooleanField(default=True, help_text="Several missed fire times run once, not once each.")

    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "jobs"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(cron="") & Q(interval_seconds__gte=1)) | (~Q(cron="") & Q(interval_seconds__isnull=True)),
                name="schedule_one_trigger",
            ),
            models.CheckConstraint(
                condition=Q(overlap__in=[p.value for p in OverlapPolicy]), name="schedule_overlap_valid"
            ),
        ]

    def __str__(self):
        return self.name


class ScheduleRun(models.Model):
    """A fire time of a schedule and the job it produced (at most one, by constraint)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    fire_time = models.DateTimeField()
    manual = models.BooleanField(default=False, help_text="Started with “run now”, not by the trigger.")
    # Pruning a job prunes its run: both follow the job retention.
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        app_label = "jobs"
        ordering = ["-fire_time"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "fire_time"], name="schedule_run_fire_time_uniq"),
        ]

    def __str__(self):
        return f"{self.schedule_id} @ {self.fire_time.isoformat()}"
