"""The job engine's tables: one row per job, one per failed or lost attempt, one per worker process.

Nothing here writes ``Job.status``: every transition goes through ``jobs.states``.
"""

import uuid

from django.db import models
from django.db.models import Q


class JobStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


LIVE_STATUSES = (
    JobStatus.SCHEDULED,
    JobStatus.PENDING,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.RETRYING,
)
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor_name = models.CharField(max_length=200)
    queue_name = models.CharField(max_length=100, default="default")
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first where the engine orders work.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    status_changed_at = models.DateTimeField()
    # Bumped each time the engine publishes a new message for this job; a message whose token is
    # stale (a duplicate delivery, a message the reaper replaced) is dropped at claim.
    dispatch_token = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=4, help_text="max_retries + 1")
    # Attempts made before the current retry cycle (a manual retry starts a new one): backoff restarts.
    retry_cycle_start = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(db_index=False)
    eta = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    worker_id = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.SmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True, default="")

    result = models.JSONField(null=True, blank=True)
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    message_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="job_created_idx"),
            models.Index(fields=["status", "-created_at"], name="job_status_created_idx"),
            models.Index(fields=["actor_name", "-created_at"], name="job_actor_created_idx"),
            models.Index(fields=["queue_name", "status"], name="job_queue_status_idx"),
            models.Index(fields=["status", "finished_at"], name="job_status_finished_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False) & Q(status__in=LIVE_STATUSES),
                name="job_live_idempotency_key_uniq",
            ),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in JobStatus]), name="job_status_valid"),
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=100), name="job_progress_range"),
        ]

    def __str__(self):
        return f"{self.actor_name} {self.id} ({self.status})"

    @property
    def max_retries(self) -> int:
        return max(self.max_attempts - 1, 0)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def wait_seconds(self) -> float | None:
        if self.started_at and self.enqueued_at:
            return max((self.started_at - self.enqueued_at).total_seconds(), 0.0)
        return None

    @property
    def run_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return max((self.finished_at - self.started_at).total_seconds(), 0.0)
        return None


class AttemptOutcome(models.TextChoices):
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost (worker died)"
    CANCELLED = "cancelled", "Cancelled"


class JobAttempt(models.Model):
    """An attempt that did not succeed, with its error; the successful attempt is the job itself."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    worker_id = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField()
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="attempt_job_number_uniq")]

    def __str__(self):
        return f"attempt {self.number} of {self.job_id}: {self.outcome}"


class Worker(models.Model):
    """A worker process, as it last reported itself."""

    id = models.CharField(max_length=200, primary_key=True, help_text="host:pid")
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    threads = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    running_jobs = models.PositiveIntegerField(default=0)
    jobs_succeeded = models.PositiveBigIntegerField(default=0)
    jobs_failed = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-heartbeat_at"]

    def __str__(self):
        return self.id


from jobs.scheduling.models import Schedule, ScheduleRun  # noqa
