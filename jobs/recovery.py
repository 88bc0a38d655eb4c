"""What the broker alone does not guarantee: relay unpublished jobs, reap jobs of dead workers.

Both are safe to run in many processes at once: every change is a conditional transition.
They run in every worker's maintenance thread and, as a schedule, in the scheduler.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

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


def recover() -> dict:
    """One pass of both: what the scheduler and the worker maintenance thread call."""
    return {"reaped": reap_lost_jobs(), "relayed": relay_unpublished()}
