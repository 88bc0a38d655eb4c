"""What the broker alone does not guarantee: relay unpublished jobs, reap jobs of dead workers.

Both are safe to run in many processes at once: every change is a conditional transition.
They run in every worker's maintenance thread and, as a schedule, in the scheduler.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from dramatiq.common import dq_name

from jobs import states
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from jobs.services import engine_setting, jobs_publish

logger = logging.getLogger(__name__)
S = JobStatus


def relay_unpublished(*, limit: int = 500) -> int:
    """Publish jobs whose message never reached the broker (broker down, crash after commit)."""
    cutoff = timezone.now() - timedelta(seconds=engine_setting("RELAY_GRACE"))
    ids = list(
        Job.objects.filter(
            status__in=(S.PENDING, S.SCHEDULED, S.RETRYING), enqueued_at__isnull=True, status_changed_at__lt=cutoff
        )
        .order_by("-priority", "created_at")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    sent = jobs_publish(ids)
    if sent:
        logger.info("Relayed %d unpublished job(s).", sent)
    return sent


def reap_lost_jobs(*, limit: int = 200) -> int:
    """Jobs left ``running`` by a worker that stopped heartbeating: record the lost attempt, then
    run them again (or fail them when out of attempts, or cancel them if that was asked)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=engine_setting("HEARTBEAT_TIMEOUT"))
    stale = list(
        Job.objects.filter(status=S.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
        .values("id", "attempts", "max_attempts", "dispatch_token", "worker_id", "started_at", "cancel_requested_at")[
            :limit
        ]
    )
    reaped = 0
    for row in stale:
        if row["cancel_requested_at"]:
            target = S.CANCELLED
        elif row["attempts"] >= row["max_attempts"]:
            target = S.FAILED
        else:
            target = S.RETRYING
        message = f"worker {row['worker_id'] or '?'} stopped heartbeating during attempt {row['attempts']}"
        fields = {"finished_at": now, "error_type": "WorkerLost", "error_message": message}
        if target == S.RETRYING:
            fields.update(next_retry_at=now, dispatch_token=F("dispatch_token") + 1, enqueued_at=None)
        with transaction.atomic():
            moved = states.transition(
                row["id"],
                target,
                only_from=(S.RUNNING,),
                where={"dispatch_token": row["dispatch_token"]},
                now=now,
                **fields,
            )
            if not moved:
                continue
            JobAttempt.objects.get_or_create(
                job_id=row["id"],
                number=row["attempts"],
                defaults={
                    "outcome": AttemptOutcome.LOST,
                    "worker_id": row["worker_id"],
                    "started_at": row["started_at"],
                    "finished_at": now,
                    "error_type": "WorkerLost",
                    "error_message": message,
                },
            )
            reaped += 1
            if target == S.RETRYING:
                transaction.on_commit(lambda job_id=row["id"]: jobs_publish([job_id]), robust=True)
        logger.warning("Reaped job %s (%s): %s", row["id"], target, message)
    return reaped


def _broker_holds_messages(queue_name: str) -> bool:
    """True if Redis holds any message of the queue: ready, delayed or delivered but not acked.

    Dramatiq keeps every message in ``<ns>:<queue>.msgs`` (and ``<queue>.DQ.msgs``) until it is acked.
    """
    broker = dramatiq.get_broker()
    namespace = broker.namespace
    pipe = broker.client.pipeline()
    pipe.hlen(f"{namespace}:{queue_name}.msgs")
    pipe.hlen(f"{namespace}:{dq_name(queue_name)}.msgs")
    return any(pipe.execute())


def republish_lost_messages(*, older_than: float = 60.0, limit: int = 500) -> int:
    """Queued jobs whose messages Redis no longer holds (a Redis restart without persistence):
    publish them again under a new dispatch token, so a late original could never run twice."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    waiting = Job.objects.filter(status__in=(S.QUEUED, S.SCHEDULED), enqueued_at__lt=cutoff)
    republished = 0
    for queue_name in waiting.order_by().values_list("queue_name", flat=True).distinct():
        if _broker_holds_messages(queue_name):
            continue
        ids = list(waiting.filter(queue_name=queue_name).values_list("id", flat=True)[:limit])
        with transaction.atomic():
            # Back to pending with a new token; the relay's publish marks them queued again.
            moved = states.transition_many(
                Job.objects.filter(pk__in=ids, status=S.QUEUED),
                S.PENDING,
                dispatch_token=F("dispatch_token") + 1,
                enqueued_at=None,
            )
            Job.objects.filter(pk__in=ids, status=S.SCHEDULED).update(
                dispatch_token=F("dispatch_token") + 1, enqueued_at=None
            )
            transaction.on_commit(lambda ids=ids: jobs_publish(ids), robust=True)
        republished += len(ids)
        logger.warning(
            "Redis holds no message of queue %s: republished %d job(s) (%d were queued).", queue_name, len(ids), moved
        )
    return republished


def recover() -> dict:
    """One pass of all three: what the scheduler and the worker maintenance thread call."""
    return {
        "reaped": reap_lost_jobs(),
        "relayed": relay_unpublished(),
        "republished": republish_lost_messages(older_than=engine_setting("LOST_MESSAGE_AGE")),
    }
