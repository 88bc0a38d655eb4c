"""The reports app's tables: stores with their polls, business hours and time zone; generated reports.

Store data follows shared/specs/store-report.md: a store id is an opaque string, a poll is one
(store, UTC instant) with the status "inactive" if any input row of that instant said so.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Store(models.Model):
    """A store as named in the input files; reported only when it has polls."""

    store_id = models.CharField(max_length=255, unique=True, help_text="Opaque id from the CSVs (never a number).")
    # None: no row in timezones.csv. An empty or unknown name falls back to America/Chicago at report time.
    timezone_str = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        ordering = ["store_id"]

    def __str__(self):
        return self.store_id


class StorePoll(models.Model):
    """One poll of a store: several input rows of the same instant are merged (inactive wins)."""

    pk = models.CompositePrimaryKey("store", "timestamp_utc")
    # The primary key starts with the store, so it serves as the foreign key's index too.
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="polls", db_index=False)
    timestamp_utc = models.DateTimeField()
    active = models.BooleanField()

    class Meta:
        ordering = ["store", "timestamp_utc"]

    def __str__(self):
        return f"{self.store_id} {self.timestamp_utc.isoformat()} {'active' if self.active else 'inactive'}"


class StoreHours(models.Model):
    """One row of menu_hours.csv: open on ``day_of_week`` (0 = Monday) from start to end, local time.

    ``end <= start`` means the interval runs past midnight (24 h when equal).
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="hours", db_index=False)
    day_of_week = models.PositiveSmallIntegerField()
    start_time_local = models.TimeField()
    end_time_local = models.TimeField()

    class Meta:
        ordering = ["store", "day_of_week", "start_time_local"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "day_of_week", "start_time_local", "end_time_local"], name="store_hours_uniq"
            ),
            models.CheckConstraint(condition=Q(day_of_week__lte=6), name="store_hours_day_range"),
        ]
        verbose_name_plural = "store hours"

    def __str__(self):
        return f"{self.store_id} day {self.day_of_week} {self.start_time_local}-{self.end_time_local}"


class ReportKind(models.TextChoices):
    STORE_UPTIME = "store_uptime", "Store uptime"
    TASK_EXECUTION = "task_execution", "Task execution"


class ReportStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    COMPLETE = "COMPLETE", "Complete"
    FAILED = "FAILED", "Failed"


class Report(models.Model):
    """A report computed in the background; its files live in ``settings.REPORTS_DIR`` under names
    derived from the id only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=ReportKind.choices, default=ReportKind.STORE_UPTIME)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)
    csv_file = models.CharField(max_length=200, blank=True, default="", help_text="Name inside REPORTS_DIR.")
    metadata_file = models.CharField(max_length=200, blank=True, default="", help_text="Name inside REPORTS_DIR.")
    error = models.TextField(blank=True, default="")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="report_created_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in ReportStatus]), name="report_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in ReportKind]), name="report_kind_valid"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} report {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ReportStatus.COMPLETE, ReportStatus.FAILED)
