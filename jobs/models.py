"""The job engine's tables: one row per job, one per unsuccessful attempt, one per worker host and
worker process.

Nothing here writes ``Job.status``: every transition goes through ``jobs.states``.
"""

import uuid

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.lookups import IsNull

from jobs.clock import Now
from jobs.search import SearchDocument


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
# Few by design, and what operators look through: partial indexes serve them (pages, search).
DEAD_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)
# Waiting in the database for their time (or for the broker): the dispatcher publishes them.
UNPUBLISHED_STATUSES = (JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.RETRYING)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor_name = models.CharField(max_length=200)
    queue_name = models.CharField(max_length=100, default="default")
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first where the engine orders work.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    status_changed_at = models.DateTimeField(db_default=Now())
    # The fencing token: bumped whenever the engine needs a new message for this job (a retry, a
    # released attempt, a lost message, an operator's retry). A message, and the running copy that
    # claimed it, act only while their token is the row's: every write of a copy matches on it.
    dispatch_token = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts started.")
    max_attempts = models.PositiveIntegerField(default=4, help_text="max_retries + 1")
    # Attempts lost through no fault of the job (its worker died while running others too, or was
    # stopped): they are not charged against max_attempts.
    uncharged_attempts = models.PositiveIntegerField(default=0)
    # Attempts made before the current retry cycle (a manual retry starts a new one): backoff restarts.
    retry_cycle_start = models.PositiveIntegerField(default=0)
    # Set when the job was running in a worker process that died with other jobs and nobody could
    # be blamed: until it ends, at most one suspect runs per process, so that the next death of its
    # process can be blamed on it (charged) and not on the jobs beside it.
    crash_suspect = models.BooleanField(default=False)

    created_at = models.DateTimeField(db_default=Now())
    eta = models.DateTimeField(null=True, blank=True, help_text="The time the submitter asked for.")
    # When a waiting job may be published: its ETA, the end of a retry's backoff, or at once.
    available_at = models.DateTimeField(db_default=Now())
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the current message was published.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    worker_id = models.CharField(max_length=200, blank=True, default="")
    progress = models.SmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True, default="")

    result = models.JSONField(null=True, blank=True)
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    # What the successful attempt cost (unsuccessful ones: on their JobAttempt); see jobs.observability.usage.
    cpu_seconds = models.FloatField(null=True, blank=True)
    peak_rss_bytes = models.BigIntegerField(null=True, blank=True)
    rss_growth_bytes = models.BigIntegerField(null=True, blank=True)

    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    # Indexed below only where set: most jobs have no parent, and every status change would
    # otherwise write an index entry for their NULL.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", db_index=False
    )
    # A copy an operator submitted from this finished job, with edited arguments (indexed where set).
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns", db_index=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="job_created_idx"),
            # No index leads with status: the worker's claims and successes (every job, twice) then
            # write fewer index entries, and a planner misled by stale statistics cannot scan a
            # whole backlog by status instead of looking jobs up by id. Partial indexes serve the
            # rare statuses that pages look for, and finished jobs by their finish time.
            models.Index(
                fields=["-created_at", "-id"],
                name="job_dead_created_idx",
                condition=Q(status__in=[JobStatus.FAILED, JobStatus.CANCELLED]),
            ),
            # The dead letters page: failed jobs grouped by (actor, error type), latest first.
            models.Index(
                fields=["actor_name", "error_type", "finished_at"],
                name="job_dead_group_idx",
                condition=Q(status=JobStatus.FAILED),
            ),
            models.Index(fields=["actor_name", "-created_at"], name="job_actor_created_idx"),
            # Failed or cancelled jobs of one actor, newest first (the job list filtered by both):
            # the walk of all failed jobs read 70,000 rows for an actor that had none.
            models.Index(
                fields=["actor_name", "-created_at", "-id"],
                name="job_dead_actor_created_idx",
                condition=Q(status__in=[JobStatus.FAILED, JobStatus.CANCELLED]),
            ),
            models.Index(fields=["queue_name", "status"], name="job_queue_status_idx"),
            models.Index(fields=["finished_at"], name="job_finished_idx", condition=Q(status__in=TERMINAL_STATUSES)),
            # The dispatcher's work list: small, because published and finished jobs leave it.
            models.Index(
                fields=["available_at"],
                name="job_unpublished_idx",
                condition=Q(enqueued_at__isnull=True) & Q(status__in=UNPUBLISHED_STATUSES),
            ),
            models.Index(fields=["worker_id"], name="job_running_worker_idx", condition=Q(status="running")),
            models.Index(fields=["parent"], name="job_parent_idx", condition=Q(parent__isnull=False)),
            models.Index(fields=["rerun_of"], name="job_rerun_of_idx", condition=Q(rerun_of__isnull=False)),
            # The search box's indexes over every job live on JobSearchEntry (below), not here.
            # The search indexes over failed and cancelled jobs only: a search within those statuses
            # finds its few matches without reading every failed job nor every job matching the
            # term (jobs.selectors.job_list narrows to them when the newest are sparse). The
            # "IS NOT NULL" (true of every document and kwargs) is implied by a search's clause
            # but not by a status alone: a query of failed jobs without a search never takes a
            # whole GIN index as its list of failed jobs (a full GIN scan, 50 ms at 70,000).
            GinIndex(
                OpClass(SearchDocument(), name="gin_trgm_ops"),
                name="job_dead_search_trgm_idx",
                condition=Q(status__in=list(DEAD_STATUSES)) & Q(IsNull(SearchDocument(), False)),
            ),
            GinIndex(
                fields=["kwargs"],
                opclasses=["jsonb_path_ops"],
                name="job_dead_kwargs_path_idx",
                condition=Q(status__in=list(DEAD_STATUSES)) & Q(kwargs__isnull=False),
            ),
            GinIndex(
                fields=["result"],
                opclasses=["jsonb_path_ops"],
                name="job_dead_result_path_idx",
                condition=Q(status__in=list(DEAD_STATUSES)) & Q(result__isnull=False),
            ),
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
    def charged_attempts(self) -> int:
        return max(self.attempts - self.uncharged_attempts, 0)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def next_retry_at(self):
        """When a retrying job runs again (None in any other state)."""
        return self.available_at if self.status == JobStatus.RETRYING else None

    @property
    def row_expires_at(self):
        """When the daily prune deletes this job (None until it finishes): ``JOBS_RETENTION``."""
        from jobs import retention

        return retention.policy().row_expires_at(status=self.status, finished_at=self.finished_at)

    @property
    def result_expires_at(self):
        """When the daily prune clears this job's result (None until it finishes): ``JOBS_RESULT_TTL``."""
        from jobs import retention

        return retention.policy().result_expires_at(status=self.status, finished_at=self.finished_at)

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


class JobSearchEntry(models.Model):
    """A job's search document (jobs.search), kept beside the job by triggers in PostgreSQL.

    Why a table of its own: the indexes of the search box (trigrams of the document, jsonb
    containment of kwargs and result) are GIN indexes, the costliest to write. On the job's row,
    every claim and success (a new row version whose status changed) wrote an entry into each of
    them, although what they index had not changed (at 2 × 8 worker threads, PostgreSQL's CPU per
    no-op job fell from 0.33 to 0.29 ms when they moved here). Here an entry is written when a job
    is created and again only when its searchable text changes (an error, a result), never by a claim.

    Triggers on jobs_job keep it (migration 0017): every insert (one statement, however many
    rows), and every update of actor, error, idempotency key, args, kwargs or result that changed
    one of them; deleting a job deletes its entry (ON DELETE CASCADE). SQLite, the embedded
    default, has no such indexes to spare: it keeps no entries and searches the jobs' own columns.
    """

    job = models.OneToOneField(
        Job, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    document = models.TextField()  # jobs.search.SearchDocument of the job
    kwargs = models.JSONField(null=True)
    result = models.JSONField(null=True)

    class Meta:
        indexes = [
            GinIndex(fields=["document"], opclasses=["gin_trgm_ops"], name="search_entry_trgm_idx"),
            GinIndex(fields=["kwargs"], opclasses=["jsonb_path_ops"], name="search_entry_kwargs_idx"),
            GinIndex(fields=["result"], opclasses=["jsonb_path_ops"], name="search_entry_result_idx"),
        ]

    def __str__(self):
        return f"search entry of job {self.job_id}"


class AttemptOutcome(models.TextChoices):
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost (worker died or stopped)"
    TIMEOUT = "timeout", "Timed out (hard limit)"
    CANCELLED = "cancelled", "Cancelled"


class JobAttempt(models.Model):
    """An attempt that did not succeed, with its error; the successful attempt is the job itself."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    charged = models.BooleanField(default=True, help_text="Counted against the job's max attempts.")
    worker_id = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(db_default=Now())
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    # A copy that was fenced (its job taken from it) but still finished: what it did, and when.
    late_outcome = models.CharField(max_length=16, blank=True, default="")
    late_at = models.DateTimeField(null=True, blank=True)
    # Measured by the worker that ran it (None for an attempt lost with its worker); see jobs.observability.usage.
    cpu_seconds = models.FloatField(null=True, blank=True)
    peak_rss_bytes = models.BigIntegerField(null=True, blank=True)
    rss_growth_bytes = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="attempt_job_number_uniq")]
        # A worker's recent attempts and the per-actor usage window (attempt rows are rare writes).
        indexes = [
            models.Index(fields=["worker_id", "-finished_at"], name="attempt_worker_finished_idx"),
            models.Index(fields=["finished_at"], name="attempt_finished_idx"),
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.job_id}: {self.outcome}"


class WorkerHost(models.Model):
    """One ``run_worker`` supervisor: the unit of liveness. Its heartbeat is written from outside the
    worker processes, so a job holding the GIL never makes its host look dead."""

    id = models.CharField(max_length=200, primary_key=True, help_text="hostname:pid:random, unique across hosts")
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(db_default=Now())
    heartbeat_at = models.DateTimeField(db_default=Now())
    # Since when the host has beaten without a gap: a host judges others silent only while it has
    # itself been heard for a whole timeout (after a database outage every heartbeat looks old).
    beating_since = models.DateTimeField(db_default=Now())
    stopped_at = models.DateTimeField(null=True, blank=True)
    processes = models.PositiveIntegerField(default=0)
    threads = models.PositiveIntegerField(default=0)
    queues = models.JSONField(default=list)

    class Meta:
        ordering = ["-heartbeat_at"]

    def __str__(self):
        return self.id


class Worker(models.Model):
    """A worker process, as its supervisor and the process itself last reported it."""

    id = models.CharField(max_length=200, primary_key=True, help_text="host id/pid")
    host = models.ForeignKey(WorkerHost, null=True, blank=True, on_delete=models.CASCADE, related_name="workers")
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    threads = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(db_default=Now())
    ready_at = models.DateTimeField(null=True, blank=True, help_text="When it began to consume messages.")
    heartbeat_at = models.DateTimeField(db_default=Now())
    stopped_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True, default="")
    running_jobs = models.PositiveIntegerField(default=0)
    jobs_succeeded = models.PositiveBigIntegerField(default=0)
    jobs_failed = models.PositiveBigIntegerField(default=0)
    # Reported by the process itself with its statistics (jobs.worker.maintenance).
    rss_bytes = models.BigIntegerField(null=True, blank=True, help_text="Resident memory at the last report.")

    class Meta:
        ordering = ["-heartbeat_at"]

    def __str__(self):
        return self.id


from jobs.scheduling.models import Schedule, ScheduleRun  # noqa
from jobs.audit.models import AuditEntry  # noqa
from jobs.controls.models import ActorControl, QueueControl  # noqa
from jobs.alerts.models import Alert, AlertNotification, AlertRule  # noqa
from jobs.metrics.models import MetricRollup  # noqa
