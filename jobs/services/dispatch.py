"""Publishing: a job's message goes to the broker once it is due, exactly once per token.

Every publication takes the rows with ``SELECT … FOR UPDATE SKIP LOCKED``, sends their messages in
one Redis transaction while holding the locks, and stamps them ``queued`` in the same database
transaction. Two processes publishing at once (the submitter's on-commit hook and every host's
dispatcher) therefore never send a job twice; a broker error leaves the rows unpublished for the
next pass. A message that reached Redis while its database transaction failed is a harmless
duplicate: it carries the same token, and a job is claimed once per token.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from jobs import broker, states
from jobs.controls import gate
from jobs.models import UNPUBLISHED_STATUSES, Job, JobStatus

logger = logging.getLogger(__name__)
S = JobStatus

PUBLISH_CHUNK = 500
_FIELDS = ("id", "dispatch_token", "queue_name", "actor_name", "args", "kwargs", "crash_suspect", "status")


def _due():
    return Job.objects.filter(status__in=UNPUBLISHED_STATUSES, enqueued_at__isnull=True, available_at__lte=Now())


def jobs_publish(job_ids, *, front: bool = False) -> int:
    """Publish those of ``job_ids`` that are unpublished and due; returns how many were sent.

    ``front`` puts them at the head of their queues (a job whose attempt was lost keeps its place).
    """
    job_ids = list(job_ids)
    sent = 0
    plan = gate.publish_plan()
    for start in range(0, len(job_ids), PUBLISH_CHUNK):
        chunk = _due().filter(pk__in=job_ids[start : start + PUBLISH_CHUNK])
        count = _publish_controlled(chunk, plan=plan, front=front, limit=PUBLISH_CHUNK)
        if count is None:
            break
        sent += count
    return sent


def publish_due(*, limit: int = PUBLISH_CHUNK) -> int:
    """The dispatcher's pass: publish the due jobs (pending ones whose on-commit publish did not
    happen, scheduled ones whose ETA came, retries whose backoff ended), highest priority first."""
    if not _due().exists():  # the common case costs one indexed read, no transaction
        return 0
    return _publish_controlled(_due(), plan=gate.publish_plan(), front=False, limit=limit) or 0


def _publish_controlled(queryset, *, plan, front: bool, limit: int) -> int | None:
    """Publish under the queue controls (``plan``, None when no queue is paused or windowed): nothing
    of a paused queue, and of a windowed queue only as many as its window has room for, highest
    priority first; the rest waits in the database for the next pass."""
    if plan is None:
        return _publish_locked(queryset, front=front, limit=limit)
    sent = _publish_locked(queryset.exclude(queue_name__in=plan.held), front=front, limit=limit)
    for queue_name, room in list(plan.rooms.items()):
        if sent is None or room <= 0:  # the plan's room is a cheap first look; the lock decides
            continue
        with transaction.atomic():
            room = gate.room_under_lock(plan, queue_name)
            of_queue = queryset.filter(queue_name=queue_name)
            count = _publish_locked(of_queue, front=front, limit=min(room, limit)) if room else 0
        if count is None:
            return None
        plan.take(queue_name, count)
        sent += count
    return sent


def _publish_locked(queryset, *, front: bool, limit: int) -> int | None:
    """Lock, send and stamp up to ``limit`` rows of ``queryset``; None when the broker is down."""
    with transaction.atomic():
        rows = list(
            queryset.select_for_update(skip_locked=True).order_by("-priority", "available_at").values(*_FIELDS)[:limit]
        )
        if not rows:
            return 0
        try:
            # A crash suspect is a released job that was held back (jobs.worker.runtime.SuspectSlot):
            # it keeps its place at the head of the queue.
            broker.publish(
                [_outgoing(row, token=row["dispatch_token"], front=front or row["crash_suspect"]) for row in rows]
            )
        except Exception as exc:  # broker down: the next dispatcher pass publishes them
            logger.warning("Publishing %d job(s) failed; the dispatcher will retry: %s", len(rows), exc)
            return None
        # The rows are locked by this transaction: their tokens cannot have changed meanwhile.
        states.transition_many(
            Job.objects.filter(pk__in=[row["id"] for row in rows]), "publish", S.QUEUED, enqueued_at=Now()
        )
    return len(rows)


def _outgoing(row, *, token: int, front: bool) -> broker.Outgoing:
    return broker.Outgoing(
        job_id=str(row["id"]),
        token=token,
        queue_name=row["queue_name"],
        actor_name=row["actor_name"],
        args=row["args"],
        kwargs=row["kwargs"],
        crash_suspect=row["crash_suspect"],
        front=front,
    )


def jobs_republish_lost(rows) -> int:
    """Queued jobs whose message the broker no longer holds: a new token and a new message at the
    head of the queue, in one transaction (rows are re-checked under their lock)."""
    republished = 0
    with transaction.atomic():
        locked = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(pk__in=[r["id"] for r in rows], status=S.QUEUED)
            .values(*_FIELDS)
        )
        expected = {str(r["id"]): r["dispatch_token"] for r in rows}
        locked = [r for r in locked if expected.get(str(r["id"])) == r["dispatch_token"]]
        if not locked:
            return 0
        states.transition_many(
            Job.objects.filter(pk__in=[r["id"] for r in locked]),
            "republish",
            S.QUEUED,
            dispatch_token=F("dispatch_token") + 1,
            enqueued_at=Now(),
        )
        try:
            broker.publish([_outgoing(r, token=r["dispatch_token"] + 1, front=True) for r in locked])
        except Exception as exc:
            logger.warning("Republishing %d lost message(s) failed; will retry: %s", len(locked), exc)
            transaction.set_rollback(True)
            return 0
        republished = len(locked)
    return republished
