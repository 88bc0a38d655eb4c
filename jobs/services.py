"""Writes of the job engine: submit, publish, finish, cancel, retry, purge, prune.

Every status change goes through ``jobs.states``; messages go to the broker only after the
transaction that wrote the row commits (a relay covers a crash or a broker outage in between).
"""

from __future__ import annotations

import json
import logging
import socket
import traceback as tb
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import dramatiq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from jobs import registry, states
from jobs.errors import (
    InvalidTransition,
    JobCancelled,
    NotFound,
    PayloadTooLarge,
    UnknownActor,
    ValidationFailed,
)
from jobs.models import LIVE_STATUSES, TERMINAL_STATUSES, AttemptOutcome, Job, JobAttempt, JobStatus

logger = logging.getLogger(__name__)
S = JobStatus


def engine_setting(name: str):
    return settings.JOBS[name]


# --- Submit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    job: Job
    created: bool


def _validate_payload(args, kwargs) -> tuple[list, dict]:
    if not isinstance(args, (list, tuple)):
        raise ValidationFailed("args must be a JSON array.", details={"field": "args"})
    if not isinstance(kwargs, dict):
        raise ValidationFailed("kwargs must be a JSON object.", details={"field": "kwargs"})
    try:
        encoded = json.dumps([list(args), kwargs], separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"args and kwargs must be JSON-serialisable: {exc}", code="not_json") from None
    limit = engine_setting("MAX_ARGS_BYTES")
    if len(encoded.encode()) > limit:
        raise PayloadTooLarge(
            f"args and kwargs take {len(encoded.encode())} bytes as JSON; the limit is {limit}.",
            details={"limit": limit},
        )
    # Round-trip so that what the actor receives is exactly what the row stores.
    args, kwargs = json.loads(encoded)
    return args, kwargs


def _resolve_actor(actor_name: str) -> registry.ActorSpec:
    spec = registry.get_spec(actor_name)
    if spec is None:
        valid = registry.actor_names()
        raise UnknownActor(
            f"Unknown actor {actor_name!r}. Valid actors: {', '.join(valid)}.",
            details={"valid_actors": valid},
        )
    return spec


def _validate_queue(queue: str) -> str:
    if queue not in registry.QUEUES:
        raise ValidationFailed(
            f"Unknown queue {queue!r}. Valid queues: {', '.join(registry.QUEUES)}.",
            details={"valid_queues": list(registry.QUEUES)},
            code="unknown_queue",
        )
    return queue


def _build_job(*, spec, args, kwargs, queue, priority, eta, idempotency_key, parent_id, max_retries, now) -> Job:
    max_retries = spec.retry.max_retries if max_retries is None else max_retries
    if max_retries < 0:
        raise ValidationFailed("max_retries must be 0 or more.", details={"field": "max_retries"})
    if eta is not None and timezone.is_naive(eta):
        raise ValidationFailed("eta must include a time zone.", details={"field": "eta"})
    scheduled = eta is not None and eta > now
    return Job(
        actor_name=spec.name,
        queue_name=_validate_queue(queue or spec.queue_name),
        priority=priority or 0,
        args=args,
        kwargs=kwargs,
        status=S.SCHEDULED if scheduled else S.PENDING,
        status_changed_at=now,
        created_at=now,
        eta=eta if scheduled else None,
        max_attempts=max_retries + 1,
        idempotency_key=idempotency_key or None,
        parent_id=parent_id,
    )


def job_submit(
    *,
    actor_name: str,
    args=(),
    kwargs=None,
    queue: str | None = None,
    priority: int = 0,
    eta: datetime | None = None,
    idempotency_key: str | None = None,
    parent_id=None,
    max_retries: int | None = None,
) -> Submitted:
    """Create a job row and publish its message once the surrounding transaction commits.

    An ``idempotency_key`` that matches a live job returns that job (``created`` False).
    Raises UnknownActor, ValidationFailed or PayloadTooLarge; nothing is written then.
    """
    spec = _resolve_actor(actor_name)
    args, kwargs = _validate_payload(args, kwargs or {})
    job = _build_job(
        spec=spec,
        args=args,
        kwargs=kwargs,
        queue=queue,
        priority=priority,
        eta=eta,
        idempotency_key=idempotency_key,
        parent_id=parent_id,
        max_retries=max_retries,
        now=timezone.now(),
    )
    if job.idempotency_key:
        existing = _live_job_with_key(job.idempotency_key)
        if existing is not None:
            return Submitted(existing, False)
    try:
        with transaction.atomic():
            job.save(force_insert=True)
    except IntegrityError:
        existing = _live_job_with_key(job.idempotency_key) if job.idempotency_key else None
        if existing is None:
            raise
        return Submitted(existing, False)
    transaction.on_commit(partial(job_publish, job.id), robust=True)
    return Submitted(job, True)


def submit(actor_name: str, *args, queue=None, priority=0, eta=None, idempotency_key=None, **kwargs) -> Job:
    """Shorthand: ``submit("scan_policy", 42, queue="scans", full=True)``."""
    return job_submit(
        actor_name=actor_name,
        args=args,
        kwargs=kwargs,
        queue=queue,
        priority=priority,
        eta=eta,
        idempotency_key=idempotency_key,
    ).job


def job_submit_many(
    *, actor_name: str, calls: list[tuple[list, dict]], queue=None, priority=0, parent_id=None
) -> list[Job]:
    """Submit many jobs of one actor in one INSERT; their messages go out together on commit."""
    spec = _resolve_actor(actor_name)
    now = timezone.now()
    jobs = []
    for args, kwargs in calls:
        args, kwargs = _validate_payload(args, kwargs or {})
        jobs.append(
            _build_job(
                spec=spec,
                args=args,
                kwargs=kwargs,
                queue=queue,
                priority=priority,
                eta=None,
                idempotency_key=None,
                parent_id=parent_id,
                max_retries=None,
                now=now,
            )
        )
    with transaction.atomic():
        Job.objects.bulk_create(jobs, batch_size=1000)
    ids = [j.id for j in jobs]
    transaction.on_commit(partial(jobs_publish, ids), robust=True)
    return jobs


def _live_job_with_key(key: str) -> Job | None:
    return Job.objects.filter(idempotency_key=key, status__in=LIVE_STATUSES).first()


# --- Publish --------------------------------------------------------------------------------------


def build_message(job: Job) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=job.queue_name,
        actor_name=job.actor_name,
        args=tuple(job.args),
        kwargs=job.kwargs,
        options={"job_id": str(job.id), "job_token": job.dispatch_token},
    )


def _delay_ms(job: Job, now) -> int | None:
    ready_at = job.next_retry_at if job.status == S.RETRYING else job.eta
    if ready_at is None or ready_at <= now:
        return None
    return int((ready_at - now).total_seconds() * 1000)


PUBLISH_CHUNK = 500


def jobs_publish(job_ids) -> int:
    """Send the messages of jobs that are not yet on the broker; returns how many were sent.

    A broker error leaves the rest unpublished (``pending``) for the relay to pick up. Rows are
    stamped in one UPDATE per chunk: pending → queued; scheduled and retrying keep their status.
    """
    job_ids = list(job_ids)
    sent = 0
    for start in range(0, len(job_ids), PUBLISH_CHUNK):
        chunk_sent, broker_ok = _publish_chunk(job_ids[start : start + PUBLISH_CHUNK])
        sent += chunk_sent
        if not broker_ok:
            break
    return sent


def _publish_chunk(job_ids) -> tuple[int, bool]:
    broker = dramatiq.get_broker()
    now = timezone.now()
    published: dict[tuple[str, int], list] = {}
    broker_ok = True
    jobs = Job.objects.filter(pk__in=job_ids, status__in=(S.PENDING, S.SCHEDULED, S.RETRYING), enqueued_at__isnull=True)
    try:
        for job in jobs.order_by("-priority", "created_at"):
            broker.enqueue(build_message(job), delay=_delay_ms(job, now))
            published.setdefault((job.status, job.dispatch_token), []).append(job.pk)
    except Exception as exc:  # broker down: the relay publishes the rest later
        logger.warning("Publishing jobs failed, the relay will retry: %s", exc)
        broker_ok = False
    stamped = timezone.now()
    for (status, token), ids in published.items():
        rows = Job.objects.filter(pk__in=ids, dispatch_token=token, status=status)
        if status == S.PENDING:
            states.transition_many(rows, S.QUEUED, enqueued_at=stamped)
        else:
            rows.update(enqueued_at=stamped)
    return sum(len(ids) for ids in published.values()), broker_ok


def job_publish(job_id) -> bool:
    return jobs_publish([job_id]) == 1


# --- Worker side: progress, finish ----------------------------------------------------------------


def worker_identity() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def job_report_progress(ctx, *, percent: float, message: str) -> bool:
    """Write progress and a heartbeat; returns True when a cancellation was requested."""
    percent = int(min(max(percent, 0), 100))
    Job.objects.filter(pk=ctx.job_id, dispatch_token=ctx.token, status=S.RUNNING).update(
        progress=percent, progress_message=str(message)[:200], heartbeat_at=timezone.now()
    )
    return job_cancel_requested(ctx.job_id)


def job_cancel_requested(job_id) -> bool:
    return Job.objects.filter(pk=job_id, cancel_requested_at__isnull=False).exists()


def cap_result(result):
    """Store results up to the size cap; larger or non-JSON results are summarised, not lost silently."""
    if result is None:
        return None
    limit = engine_setting("MAX_RESULT_BYTES")
    try:
        size = len(json.dumps(result, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError):
        return {"unserialisable_result": repr(result)[:1000]}
    if size > limit:
        return {"truncated": True, "size_bytes": size, "limit_bytes": limit}
    return result


def job_succeed(ctx, result) -> bool:
    return states.succeed(ctx.job_id, token=ctx.token, result=cap_result(result))


def job_fail_attempt(ctx, exc: BaseException, *, traceback_text: str = "", outcome=None) -> str | None:
    """Record a failed attempt and move the job to retrying, failed or cancelled.

    Returns the new status, or None when the claim was no longer ours (the reaper took the job).
    """
    spec = ctx.spec
    now = timezone.now()
    error_type = type(exc).__name__
    error_message = str(exc)[:5000]
    if isinstance(exc, JobCancelled):
        target, attempt_outcome = S.CANCELLED, AttemptOutcome.CANCELLED
    elif spec is None or spec.is_permanent(exc) or ctx.attempt >= ctx.max_attempts:
        target, attempt_outcome = S.FAILED, outcome or AttemptOutcome.FAILED
    else:
        target, attempt_outcome = S.RETRYING, outcome or AttemptOutcome.FAILED
    fields = {"finished_at": now, "error_type": error_type, "error_message": error_message}
    if target == S.RETRYING:
        delay = spec.retry.delay(max(ctx.attempt - ctx.retry_cycle_start, 1))
        fields.update(
            next_retry_at=now + timedelta(seconds=delay),
            dispatch_token=F("dispatch_token") + 1,
            enqueued_at=None,
        )
    with transaction.atomic():
        moved = states.transition(
            ctx.job_id, target, only_from=(S.RUNNING,), where={"dispatch_token": ctx.token}, now=now, **fields
        )
        if not moved:
            return None
        JobAttempt.objects.create(
            job_id=ctx.job_id,
            number=ctx.attempt,
            outcome=attempt_outcome,
            worker_id=ctx.worker_id,
            started_at=ctx.started_at,
            finished_at=now,
            error_type=error_type,
            error_message=error_message,
            traceback=traceback_text[-20000:],
        )
        if target == S.RETRYING:
            transaction.on_commit(partial(job_publish, ctx.job_id), robust=True)
    return target


def format_traceback(exc: BaseException) -> str:
    return "".join(tb.format_exception(type(exc), exc, exc.__traceback__, limit=30))


# --- Operator actions -----------------------------------------------------------------------------


def _get_job(job_id) -> Job:
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError, ValidationError):  # ValidationError: not a UUID
        raise NotFound(f"Job {job_id} does not exist.") from None


def job_cancel(*, job_id) -> Job:
    """Cancel a job: a waiting job never runs; a running one is interrupted at its next check.

    Raises InvalidTransition (409) for a job that already finished.
    """
    job = _get_job(job_id)
    now = timezone.now()
    if job.status == S.RUNNING:
        requested = Job.objects.filter(pk=job.pk, status=S.RUNNING, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now
        )
        if requested or Job.objects.filter(pk=job.pk, status=S.RUNNING).exists():
            job.refresh_from_db()
            return job
    elif states.transition(
        job.pk, S.CANCELLED, only_from=(S.PENDING, S.SCHEDULED, S.QUEUED, S.RETRYING), now=now, finished_at=now
    ):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    if job.status == S.CANCELLED or job.cancel_requested_at:
        return job
    raise InvalidTransition(f"Job {job.pk} is {job.status}; only a waiting or running job can be cancelled.")


def _retry_fields(job: Job, now) -> dict:
    spec = registry.get_spec(job.actor_name)
    budget = spec.retry.max_retries if spec else job.max_retries
    return {
        "now": now,
        "dispatch_token": F("dispatch_token") + 1,
        "max_attempts": job.attempts + budget + 1,
        "retry_cycle_start": job.attempts,
        "enqueued_at": None,
        "next_retry_at": None,
        "finished_at": None,
        "cancel_requested_at": None,
        "eta": None,
    }


# An operator may run again what ended without success; waiting and running jobs are not retried.
RETRYABLE = (S.FAILED, S.CANCELLED)


def job_retry(*, job_id) -> Job:
    """Run a failed or cancelled job again, with a fresh retry budget. 409 for any other state."""
    job = _get_job(job_id)
    if job.status not in RETRYABLE:
        raise InvalidTransition(f"Job {job.pk} is {job.status}; only a failed or cancelled job can be retried.")
    with transaction.atomic():
        moved = states.transition(job.pk, S.PENDING, only_from=(job.status,), **_retry_fields(job, timezone.now()))
        if not moved:
            raise InvalidTransition(f"Job {job.pk} changed state meanwhile; it was not retried.")
        transaction.on_commit(partial(job_publish, job.pk), robust=True)
    job.refresh_from_db()
    return job


def jobs_retry_bulk(queryset: QuerySet) -> int:
    """Retry every failed or cancelled job of ``queryset``; returns how many were retried."""
    count = 0
    now = timezone.now()
    for job in (
        queryset.filter(status__in=RETRYABLE).only("id", "status", "attempts", "actor_name", "max_attempts").iterator()
    ):
        with transaction.atomic():
            if states.transition(job.pk, S.PENDING, only_from=(job.status,), **_retry_fields(job, now)):
                count += 1
                transaction.on_commit(partial(job_publish, job.pk), robust=True)
    return count


def jobs_cancel_bulk(job_ids) -> int:
    """Cancel each job that is still waiting or running; returns how many were cancelled (or asked
    to stop). Finished jobs are left as they are."""
    cancelled = 0
    for job_id in job_ids:
        try:
            job_cancel(job_id=job_id)
            cancelled += 1
        except (InvalidTransition, NotFound):
            pass
    return cancelled


def jobs_purge_failed(queryset: QuerySet) -> int:
    """Delete dead (failed) jobs of ``queryset`` with their attempts; returns how many jobs went."""
    return _deleted_jobs(queryset.filter(status=S.FAILED).delete())


def _deleted_jobs(deletion: tuple[int, dict]) -> int:
    """Jobs among the rows a ``delete()`` removed (it counts cascaded attempts and runs too)."""
    return deletion[1].get(Job._meta.label, 0)


def jobs_prune(*, older_than_days: int | None = None, batch_size: int = 1000, on_batch=None) -> int:
    """Delete terminal jobs finished before the retention window, in batches (short locks)."""
    days = engine_setting("RETENTION_DAYS") if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    total = 0
    while True:
        ids = list(
            Job.objects.filter(status__in=TERMINAL_STATUSES, finished_at__lt=cutoff).values_list("id", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return total
        with transaction.atomic():
            JobAttempt.objects.filter(job_id__in=ids).delete()
            Job.objects.filter(parent_id__in=ids).update(parent=None)
            total += _deleted_jobs(Job.objects.filter(pk__in=ids).delete())
        if on_batch:
            on_batch(total)
