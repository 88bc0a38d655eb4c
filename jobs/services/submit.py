"""Submitting jobs: validate, write the row, publish after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.utils import timezone

from jobs import registry, validation
from jobs.errors import UnknownActor, ValidationFailed
from jobs.models import LIVE_STATUSES, Job, JobStatus
from jobs.services.dispatch import jobs_publish

S = JobStatus


@dataclass(frozen=True)
class Submitted:
    job: Job
    created: bool


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


def _build_job(*, spec, args, kwargs, queue, priority, eta, idempotency_key, parent_id, max_retries) -> Job:
    max_retries = spec.retry.max_retries if max_retries is None else max_retries
    if max_retries < 0:
        raise ValidationFailed("max_retries must be 0 or more.", details={"field": "max_retries"})
    if eta is not None and timezone.is_naive(eta):
        raise ValidationFailed("eta must include a time zone.", details={"field": "eta"})
    job = Job(
        actor_name=spec.name,
        queue_name=_validate_queue(queue or spec.queue_name),
        priority=priority or 0,
        args=args,
        kwargs=kwargs,
        max_attempts=max_retries + 1,
        idempotency_key=idempotency_key or None,
        parent_id=parent_id,
    )
    if eta is not None:
        # The dispatcher publishes it when the database's clock reaches the ETA.
        job.status, job.eta, job.available_at = S.SCHEDULED, eta, eta
    else:
        job.status = S.PENDING  # created_at, available_at: the database's now()
    return job


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
    args, kwargs = validation.validate_payload(args, kwargs or {})
    validation.validate_call(spec, args, kwargs)
    validation.validate_priority(priority)
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
    )
    if job.idempotency_key:
        existing = _live_job_with_key(job.idempotency_key)
        if existing is not None:
            return Submitted(existing, False)
    try:
        with transaction.atomic():
            job.save(force_insert=True)
    except IntegrityError:
        existing = _job_that_won_key(job.idempotency_key) if job.idempotency_key else None
        if existing is None:
            raise
        return Submitted(existing, False)
    # A scheduled job is published now only if its ETA has already passed (else by the dispatcher).
    transaction.on_commit(partial(jobs_publish, [job.id]), robust=True)
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
    jobs = []
    validation.validate_priority(priority)
    for args, kwargs in calls:
        args, kwargs = validation.validate_payload(args, kwargs or {})
        validation.validate_call(spec, args, kwargs)
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
            )
        )
    with transaction.atomic():
        Job.objects.bulk_create(jobs, batch_size=1000)
    transaction.on_commit(partial(jobs_publish, [j.id for j in jobs]), robust=True)
    return jobs


def _live_job_with_key(key: str) -> Job | None:
    return Job.objects.filter(idempotency_key=key, status__in=LIVE_STATUSES).first()


# How far back to look for the job that won a key race and already finished (index on created_at).
KEY_RACE_WINDOW = timedelta(minutes=5)


def _job_that_won_key(key: str) -> Job | None:
    """After our insert lost the race for a key: the live job holding it or, when that job already
    finished (a fast job submitted through another web host at the same moment), the newest job
    with the key. That job is the answer to this request too, never a 500."""
    return (
        _live_job_with_key(key)
        or Job.objects.filter(idempotency_key=key, created_at__gte=Now() - KEY_RACE_WINDOW)
        .order_by("-created_at")
        .first()
    )
