"""Operators' actions on jobs: cancel, retry, re-run with edited arguments, purge dead jobs, prune old ones.

Each records who did it in the audit trail (``jobs.audit``), in the same transaction as the action;
``user`` None is the platform itself (a schedule, a command).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Now

from jobs import registry, retention, states, validation
from jobs.audit.services import audit_record
from jobs.errors import InvalidTransition, NotFound
from jobs.models import LIVE_STATUSES, TERMINAL_STATUSES, Job, JobAttempt, JobStatus
from jobs.services.dispatch import jobs_publish
from jobs.services.submit import job_submit

S = JobStatus
WAITING = (S.PENDING, S.SCHEDULED, S.QUEUED, S.RETRYING)
# An operator may run again what ended without success; waiting and running jobs are not retried.
RETRYABLE = (S.FAILED, S.CANCELLED)


def _get_job(job_id) -> Job:
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError, ValidationError):  # ValidationError: not a UUID
        raise NotFound(f"Job {job_id} does not exist.") from None


def job_cancel(*, job_id, user=None) -> Job:
    """Cancel a job: a waiting job never runs; a running one is interrupted at its next check.

    A claim or a finish racing the cancel is settled by reading the job again: a job that started
    meanwhile is asked to stop; one that finished meanwhile is a 409 (InvalidTransition), and so is
    one cancelled already. A running job asked to stop already is answered as it is (200): its stop
    is still coming. The audit row records a change only, not a repeated request.
    """
    with transaction.atomic():
        job, changed = _cancel(_get_job(job_id))
        if changed:
            audit_record(
                user=user, action="job.cancel", target_type="job", target_id=job.pk, detail={"status": job.status}
            )
    return job


def _cancel(job: Job) -> tuple[Job, bool]:
    """(the job as it is now, whether this call cancelled it or asked it to stop)."""
    changed = False
    for _ in range(5):
        if job.status == S.RUNNING:
            if Job.objects.filter(pk=job.pk, status=S.RUNNING, cancel_requested_at__isnull=True).update(
                cancel_requested_at=Now()
            ):
                changed = True
                break
        elif job.status in WAITING:
            if states.transition(job.pk, "cancel", S.CANCELLED, finished_at=Now()):
                changed = True
                break
        job.refresh_from_db()
        if job.status == S.RUNNING and job.cancel_requested_at:
            break
        if job.status in TERMINAL_STATUSES:
            raise InvalidTransition(f"Job {job.pk} is {job.status}; only a waiting or running job can be cancelled.")
    job.refresh_from_db()
    return job, changed


def _rerun_fields(job: Job) -> dict:
    spec = registry.get_spec(job.actor_name)
    budget = spec.retry.max_retries if spec else job.max_retries
    return {
        "dispatch_token": F("dispatch_token") + 1,
        "max_attempts": job.attempts - job.uncharged_attempts + budget + 1,
        "retry_cycle_start": job.attempts - job.uncharged_attempts,
        "enqueued_at": None,
        "available_at": Now(),
        "finished_at": None,
        "cancel_requested_at": None,
        "crash_suspect": False,
    }


def job_retry(*, job_id, user=None) -> Job:
    """Run a failed or cancelled job again, with a fresh retry budget. 409 for any other state, and
    when another live job holds its idempotency key meanwhile."""
    job = _get_job(job_id)
    if job.status not in RETRYABLE:
        raise InvalidTransition(f"Job {job.pk} is {job.status}; only a failed or cancelled job can be retried.")
    try:
        with transaction.atomic():
            moved = states.transition(job.pk, "rerun", S.PENDING, where={"status": job.status}, **_rerun_fields(job))
            if moved:
                audit_record(user=user, action="job.retry", target_type="job", target_id=job.pk)
    except IntegrityError:
        raise InvalidTransition(
            f"Job {job.pk} cannot run again: a newer live job holds its idempotency key "
            f"{job.idempotency_key!r}. Cancel that job first, or leave this one as it is.",
            details={"idempotency_key": job.idempotency_key},
            code="idempotency_key_taken",
        ) from None
    if not moved:
        raise InvalidTransition(f"Job {job.pk} changed state meanwhile; it was not retried.")
    transaction.on_commit(partial(jobs_publish, [job.pk]), robust=True)
    job.refresh_from_db()
    return job


def job_rerun(*, job_id, args=None, kwargs=None, user=None) -> Job:
    """Submit a copy of a finished job with edited arguments, linked to it (``rerun_of``).

    ``args``/``kwargs`` None keep the original's. The copy is checked like any submit (payload
    limits, the actor's signature) and gets the actor's retry budget; the original stays as it is.
    Raises NotFound, InvalidTransition (409: the job has not finished), ValidationFailed, UnknownActor.
    """
    original = _get_job(job_id)
    # Internal actors' arguments are the platform's to choose (jobs.prune with -1 days deletes everything).
    validation.validate_public_actor(original.actor_name)
    if original.status not in TERMINAL_STATUSES:
        raise InvalidTransition(
            f"Job {original.pk} is {original.status}; only a finished job can be run again with edited arguments."
        )
    with transaction.atomic():
        copy = job_submit(
            actor_name=original.actor_name,
            args=original.args if args is None else args,
            kwargs=original.kwargs if kwargs is None else kwargs,
            queue=original.queue_name,
            priority=original.priority,
        ).job
        Job.objects.filter(pk=copy.pk).update(rerun_of=original)
        copy.rerun_of = original
        audit_record(
            user=user,
            action="job.rerun",
            target_type="job",
            target_id=original.pk,
            detail={
                "rerun_id": str(copy.pk),
                "args_changed": copy.args != original.args,
                "kwargs_changed": copy.kwargs != original.kwargs,
            },
        )
    return copy


def _without_key_conflicts(queryset: QuerySet) -> QuerySet:
    """The retryable jobs of ``queryset`` whose idempotency key (if any) no live job holds, and of
    several sharing a key only the newest: retrying one makes its key live again."""
    candidates = queryset.filter(status__in=RETRYABLE)
    taken = Job.objects.filter(status__in=LIVE_STATUSES, idempotency_key__isnull=False).values("idempotency_key")
    newer_with_same_key = candidates.filter(
        Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk")),
        idempotency_key=OuterRef("idempotency_key"),
    )
    return candidates.exclude(idempotency_key__in=taken).exclude(Exists(newer_with_same_key))


def jobs_retry_bulk(queryset: QuerySet, *, user=None, audit_action: str = "jobs.retry", detail=None) -> int:
    """Retry every failed or cancelled job of ``queryset`` (of those sharing an idempotency key, the
    newest, and none whose key a live job holds); returns how many were retried. One audit row
    (``audit_action``) counts them, committed with the last of them."""
    with transaction.atomic():
        count = _retry_each(queryset)
        audit_record(user=user, action=audit_action, target_type="filter", count=count, detail=detail)
    return count


def _retry_each(queryset: QuerySet) -> int:
    count = 0
    fields = ("id", "status", "attempts", "uncharged_attempts", "actor_name", "max_attempts", "idempotency_key")
    for job in _without_key_conflicts(queryset).only(*fields).iterator():
        try:
            with transaction.atomic():
                if states.transition(job.pk, "rerun", S.PENDING, where={"status": job.status}, **_rerun_fields(job)):
                    count += 1
                    transaction.on_commit(partial(jobs_publish, [job.pk]), robust=True)
        except IntegrityError:  # its key was taken meanwhile: left as it is
            continue
    return count


def jobs_cancel_bulk(job_ids, *, user=None) -> int:
    """Cancel each job that is still waiting or running; returns how many were cancelled (or asked
    to stop). Finished jobs are left as they are."""
    cancelled = 0
    job_ids = list(job_ids)
    with transaction.atomic():
        for job_id in job_ids:
            try:
                with transaction.atomic():
                    cancelled += _cancel(_get_job(job_id))[1]
            except (InvalidTransition, NotFound):
                pass
        audit_record(
            user=user, action="jobs.cancel", target_type="jobs", count=cancelled, detail={"selected": len(job_ids)}
        )
    return cancelled


def _delete_locked(queryset: QuerySet, *, batch_size: int) -> int:
    """Delete one batch of ``queryset``'s jobs, re-checked under their row locks: a job retried
    between the choice and the delete is kept (the retry waits for the lock, then finds nothing)."""
    with transaction.atomic():
        ids = list(queryset.select_for_update(skip_locked=True).values_list("id", flat=True)[:batch_size])
        if not ids:
            return 0
        JobAttempt.objects.filter(job_id__in=ids).delete()
        Job.objects.filter(parent_id__in=ids).update(parent=None)
        deleted = Job.objects.filter(pk__in=ids).delete()
    return deleted[1].get(Job._meta.label, 0)


def jobs_purge_failed(queryset: QuerySet, *, batch_size: int = 1000, user=None, detail=None) -> int:
    """Delete dead (failed) jobs of ``queryset`` with their attempts; returns how many jobs went.

    Deleted in batches (short locks); the audit row is committed with the last batch."""
    total = 0
    while True:
        with transaction.atomic():
            batch = _delete_locked(queryset.filter(status=S.FAILED), batch_size=batch_size)
            total += batch
            if not batch:
                audit_record(user=user, action="jobs.purge", target_type="filter", count=total, detail=detail)
                return total


def jobs_prune(*, older_than_days: int | None = None, batch_size: int = 1000, on_batch=None, user=None) -> int:
    """Delete terminal jobs past their state's retention (``JOBS_RETENTION``; ``older_than_days``
    overrides it for every state), then clear results past ``JOBS_RESULT_TTL``; in batches of
    ``batch_size`` rows, each its own short transaction. Returns how many jobs were deleted."""
    rules = retention.policy()
    keep = {s: timedelta(days=older_than_days) for s in rules.rows} if older_than_days is not None else rules.rows
    total = 0
    for status, duration in keep.items():
        old = Job.objects.filter(status=status, finished_at__lt=Now() - duration)
        while batch := _delete_locked(old, batch_size=batch_size):
            total += batch
            if on_batch:
                on_batch(total)
    if rules.result_ttl is not None:
        jobs_results_expire(older_than=rules.result_ttl, batch_size=batch_size)
    audit_record(
        user=user,
        action="jobs.prune",
        target_type="retention",
        target_id=older_than_days if older_than_days is not None else "policy",
        count=total,
        detail={str(status): f"{duration.total_seconds() / 86400:g}d" for status, duration in keep.items()},
    )
    return total


def jobs_results_expire(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Clear the results of jobs finished more than ``older_than`` ago (their rows stay), walking the
    finished jobs once in keyset order, one short transaction per batch; returns how many cleared."""
    finished = Job.objects.filter(status__in=TERMINAL_STATUSES, finished_at__lt=Now() - older_than).order_by(
        "finished_at", "id"
    )
    after = None
    cleared = 0
    while True:
        page = (
            finished
            if after is None
            else finished.filter(Q(finished_at__gt=after[0]) | Q(finished_at=after[0], id__gt=after[1]))
        )
        keys = list(page.values_list("finished_at", "id")[:batch_size])
        if not keys:
            return cleared
        after = keys[-1]
        with transaction.atomic():
            expired = Job.objects.filter(
                pk__in=[k[1] for k in keys], status__in=TERMINAL_STATUSES, result__isnull=False
            )
            cleared += expired.update(result=None)
