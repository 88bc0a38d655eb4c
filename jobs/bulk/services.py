"""Writes of bulk operations: submit one (the request's part) and apply one (the job's part)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Now

from jobs import registry, selectors, states
from jobs.audit.services import audit_complete, audit_record
from jobs.errors import ValidationFailed
from jobs.models import LIVE_STATUSES, TERMINAL_STATUSES, Job, JobStatus
from jobs.services.dispatch import jobs_publish
from jobs.services.operations import RETRYABLE, _delete_locked, _retry_each
from jobs.services.submit import job_submit

S = JobStatus
BULK_ACTOR = "jobs.bulk"
BATCH_SIZE = 500
# What each action can touch: other jobs of the filter are left as they are (and not counted).
APPLICABLE = {
    "retry": RETRYABLE,
    "cancel": LIVE_STATUSES,
    "delete": TERMINAL_STATUSES,
    "run_now": (S.SCHEDULED, S.RETRYING),
}
ACTIONS = tuple(APPLICABLE)
# Without a criterion these would act on every job of the platform: they need at least one.
DESTRUCTIVE = ("cancel", "delete")
FILTER_KEYS = ("status", "actor", "queue", "created_after", "created_before", "search")


def _stored_filter(filters: dict) -> dict:
    """The filter as JSON (the job's kwargs): the criteria given, times as ISO strings, statuses sorted."""
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise ValidationFailed(f"Unknown filter field(s): {', '.join(unknown)}.", details={"field": unknown[0]})
    stored = {}
    for key, value in filters.items():
        if value in (None, "", [], ()):
            continue
        if key == "search" and isinstance(value, str) and not value.strip():
            continue  # the jobs list ignores a blank search: no criterion (a blank actor matches none)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif key == "status":
            value = sorted({value} if isinstance(value, str) else set(value))
        stored[key] = value
    return stored


def matching_jobs(*, action: str, filters: dict) -> QuerySet:
    """The jobs of the jobs-list ``filters`` that ``action`` can touch."""
    criteria = dict(filters)
    for key in ("created_after", "created_before"):
        if isinstance(criteria.get(key), str):
            criteria[key] = datetime.fromisoformat(criteria[key])
    return selectors.job_list(**criteria).filter(status__in=APPLICABLE[action])


def jobs_bulk_submit(*, action: str, filters: dict, user=None) -> Job:
    """Submit the job that applies ``action`` to every job ``filters`` match; returns that job.

    Raises ValidationFailed for an unknown action or filter field, and for a destructive action
    (cancel, delete) with no criterion: an empty filter never means "every job".
    """
    if action not in APPLICABLE:
        raise ValidationFailed(f"Unknown action {action!r}; one of {', '.join(ACTIONS)}.", details={"field": "action"})
    stored = _stored_filter(filters)
    if action in DESTRUCTIVE and not stored:
        raise ValidationFailed(
            f"A bulk {action} needs at least one filter criterion: an empty filter would match every job.",
            details={"field": "filter"},
        )
    with transaction.atomic():
        job = job_submit(actor_name=BULK_ACTOR, kwargs={"action": action, "filters": stored}).job
        audit_record(
            user=user,
            action=f"jobs.bulk_{action}",
            target_type="job",
            target_id=job.pk,
            count=0,
            detail={"filter": stored, "state": "submitted"},
        )
    return job


# --- Applying, one batch per transaction ----------------------------------------------------------


def _retry(ids: list) -> int:
    """failed/cancelled → pending, published on commit. Jobs without an idempotency key (nearly all)
    move in one UPDATE per actor (with the actor's retry budget); keyed ones one by one, through the
    single retry's key checks."""
    keyless = Job.objects.filter(pk__in=ids, status__in=RETRYABLE, idempotency_key__isnull=True)
    moved = 0
    for actor_name in sorted(set(keyless.order_by().values_list("actor_name", flat=True))):
        spec = registry.get_spec(actor_name)
        charged = F("attempts") - F("uncharged_attempts")
        budget = spec.retry.max_retries + 1 if spec else F("max_attempts")
        moved += states.transition_many(
            keyless.filter(actor_name=actor_name),
            "rerun",
            S.PENDING,
            dispatch_token=F("dispatch_token") + 1,
            max_attempts=charged + budget,
            retry_cycle_start=charged,
            enqueued_at=None,
            available_at=Now(),
            finished_at=None,
            cancel_requested_at=None,
            crash_suspect=False,
        )
    moved += _retry_each(Job.objects.filter(pk__in=ids, idempotency_key__isnull=False))
    transaction.on_commit(partial(jobs_publish, ids), robust=True)
    return moved


def _cancel(ids: list) -> int:
    waiting = states.transition_many(Job.objects.filter(pk__in=ids), "cancel", S.CANCELLED, finished_at=Now())
    running = Job.objects.filter(pk__in=ids, status=S.RUNNING, cancel_requested_at__isnull=True).update(
        cancel_requested_at=Now()
    )
    return waiting + running


def _delete(ids: list) -> int:
    return _delete_locked(Job.objects.filter(pk__in=ids, status__in=TERMINAL_STATUSES), batch_size=len(ids))


def _run_now(ids: list) -> int:
    # Not a status change: a scheduled or retrying job becomes due, and the dispatcher's publish
    # (the state machine's "publish") takes it from there.
    due = Job.objects.filter(pk__in=ids, status__in=APPLICABLE["run_now"], enqueued_at__isnull=True).update(
        available_at=Now()
    )
    transaction.on_commit(partial(jobs_publish, ids), robust=True)
    return due


APPLY: dict[str, Callable[[list], int]] = {"retry": _retry, "cancel": _cancel, "delete": _delete, "run_now": _run_now}


def jobs_bulk_apply(
    *,
    action: str,
    filters: dict,
    bulk_job_id=None,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> dict:
    """Apply ``action`` to every job ``filters`` match, ``batch_size`` jobs per transaction.

    Walks the matching jobs by id, so each batch costs the same at any depth and a job is visited
    once; jobs that left the action's states meanwhile are skipped by the transitions' guards.
    ``on_batch(done, total, changed)`` is called after each batch (the job's progress). Completes
    the audit row of ``bulk_job_id`` with the counts, also when stopped part way.
    """
    queryset = matching_jobs(action=action, filters=filters)
    if bulk_job_id is not None:
        queryset = queryset.exclude(pk=bulk_job_id)
    total = queryset.count()
    done = changed = 0
    last_id = None
    state = "stopped"
    try:
        while True:
            page = queryset if last_id is None else queryset.filter(pk__gt=last_id)
            ids = list(page.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            with transaction.atomic():
                changed += APPLY[action](ids)
            done += len(ids)
            last_id = ids[-1]
            if on_batch:
                on_batch(done, max(total, done), changed)
        state = "done"
    finally:
        result = {"action": action, "matched": max(total, done), "processed": done, "changed": changed, "state": state}
        if bulk_job_id is not None:
            audit_complete(
                action=f"jobs.bulk_{action}", target_type="job", target_id=bulk_job_id, count=changed, detail=result
            )
    return result
