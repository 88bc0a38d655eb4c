"""The one state machine of a job.

Allowed transitions are declared once in ``TRANSITIONS``. Every transition is a single conditional
UPDATE that matches only the allowed source states, so two processes can never move a job
backwards or run a cancelled job; a transition that matched nothing reports ``False``.
Nothing else in the code base writes ``Job.status``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from jobs.models import Job, JobStatus

S = JobStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    # pending → running: a worker may see the message before the submitter marks the row queued.
    S.PENDING: frozenset({S.QUEUED, S.RUNNING, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.RUNNING, S.CANCELLED}),
    # queued → pending: its message was lost (Redis restarted empty) and must be published again.
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.PENDING}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.RETRYING, S.CANCELLED}),
    S.RETRYING: frozenset({S.RUNNING, S.CANCELLED, S.FAILED}),
    S.FAILED: frozenset({S.PENDING}),
    S.CANCELLED: frozenset({S.PENDING}),
    S.SUCCEEDED: frozenset(),
}

CLAIMABLE = tuple(sorted(s for s, targets in TRANSITIONS.items() if S.RUNNING in targets))


def sources_of(target: str) -> tuple[str, ...]:
    """The states from which ``target`` may be reached."""
    return tuple(sorted(s for s, targets in TRANSITIONS.items() if target in targets))


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def transition(job_id, target: str, *, only_from: tuple[str, ...] | None = None, where=None, **fields) -> bool:
    """Move one job to ``target`` if it is in an allowed source state; True when it moved.

    ``only_from`` narrows the allowed sources, ``where`` adds filters (e.g. a dispatch token);
    ``fields`` are written in the same UPDATE.
    """
    allowed = sources_of(target)
    if only_from is not None:
        allowed = tuple(s for s in allowed if s in only_from)
    now = fields.pop("now", None) or timezone.now()
    matched = Job.objects.filter(pk=job_id, status__in=allowed, **(where or {})).update(
        status=target, status_changed_at=now, **fields
    )
    return matched == 1


def transition_many(queryset, target: str, **fields) -> int:
    """Move every job of ``queryset`` that is in an allowed source state; returns how many moved."""
    now = fields.pop("now", None) or timezone.now()
    return queryset.filter(status__in=sources_of(target)).update(status=target, status_changed_at=now, **fields)


# --- The worker's hot path: raw SQL, one round trip each -------------------------------------------


@dataclass(frozen=True)
class Claim:
    attempts: int
    max_attempts: int
    retry_cycle_start: int = 0


def _db_uuid(value):
    return Job._meta.pk.get_db_prep_value(value, connection)


def _db_time(value):
    return connection.ops.adapt_datetimefield_value(value)


_table = Job._meta.db_table


def claim(job_id, *, token: int, worker_id: str, message_id: str, now=None) -> Claim | None:
    """Mark a job running for this worker: one conditional UPDATE that also counts the attempt.

    Returns None when the job is not claimable with this token (cancelled, already running, a stale
    duplicate message): the caller drops the message.
    """
    now = _db_time(now or timezone.now())
    placeholders = ", ".join(["%s"] * len(CLAIMABLE))
    sql = (
        f"UPDATE {_table} SET status = %s, status_changed_at = %s, attempts = attempts + 1, "
        f"started_at = %s, finished_at = NULL, heartbeat_at = %s, worker_id = %s, message_id = %s, "
        f"enqueued_at = COALESCE(enqueued_at, %s), progress = 0, progress_message = '' "
        f"WHERE id = %s AND dispatch_token = %s AND cancel_requested_at IS NULL "
        f"AND status IN ({placeholders}) RETURNING attempts, max_attempts, retry_cycle_start"
    )
    params = [S.RUNNING, now, now, now, worker_id, message_id, now, _db_uuid(job_id), token, *CLAIMABLE]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return Claim(attempts=row[0], max_attempts=row[1], retry_cycle_start=row[2]) if row else None


def claim_many(requests, *, worker_id: str, now=None) -> dict[str, Claim]:
    """``claim`` for many (job_id, token, message_id) in one statement; returns the claims that
    matched, by job id (as a string). On SQLite, one UPDATE each inside one transaction."""
    now_value = now or timezone.now()
    if connection.vendor != "postgresql":
        claims = {}
        with transaction.atomic():
            for job_id, token, message_id in requests:
                found = claim(job_id, token=token, worker_id=worker_id, message_id=message_id, now=now_value)
                if found is not None:
                    claims[str(job_id)] = found
        return claims
    stamp = _db_time(now_value)
    values = ", ".join(["(%s::uuid, %s::integer, %s::text)"] * len(requests))
    placeholders = ", ".join(["%s"] * len(CLAIMABLE))
    sql = (
        f"UPDATE {_table} AS j SET status = %s, status_changed_at = %s, attempts = j.attempts + 1, "
        f"started_at = %s, finished_at = NULL, heartbeat_at = %s, worker_id = %s, message_id = v.message_id, "
        f"enqueued_at = COALESCE(j.enqueued_at, %s), progress = 0, progress_message = '' "
        f"FROM (VALUES {values}) AS v(id, token, message_id) "
        f"WHERE j.id = v.id AND j.dispatch_token = v.token AND j.cancel_requested_at IS NULL "
        f"AND j.status IN ({placeholders}) RETURNING j.id, j.attempts, j.max_attempts, j.retry_cycle_start"
    )
    params = [S.RUNNING, stamp, stamp, stamp, worker_id, stamp]
    for job_id, token, message_id in requests:
        params += [str(job_id), token, message_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *CLAIMABLE])
        rows = cursor.fetchall()
    return {str(row[0]): Claim(attempts=row[1], max_attempts=row[2], retry_cycle_start=row[3]) for row in rows}


def succeed(job_id, *, token: int, result, now=None) -> bool:
    """running → succeeded for the claim that holds ``token``, storing the (size-capped) result."""
    now = _db_time(now or timezone.now())
    encoded = None if result is None else connection.ops.adapt_json_value(result, None)
    sql = (
        f"UPDATE {_table} SET status = %s, status_changed_at = %s, finished_at = %s, result = %s, "
        f"progress = 100 WHERE id = %s AND dispatch_token = %s AND status = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [S.SUCCEEDED, now, now, encoded, _db_uuid(job_id), token, S.RUNNING])
        return cursor.rowcount == 1


def succeed_many(items) -> int:
    """running → succeeded for many claims in one statement; ``items`` are
    (job_id, token, result, finished_at). Returns how many rows moved."""
    if not items:
        return 0
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s::uuid, %s::integer, %s::timestamptz, %s::jsonb)"] * len(items))
        params = []
        for job_id, token, result, finished_at in items:
            encoded = None if result is None else connection.ops.adapt_json_value(result, None)
            params += [str(job_id), token, finished_at, encoded]
        sql = (
            f"UPDATE {_table} AS j SET status = %s, status_changed_at = v.finished_at, finished_at = v.finished_at, "
            f"result = v.result, progress = 100 FROM (VALUES {values}) AS v(id, token, finished_at, result) "
            f"WHERE j.id = v.id AND j.dispatch_token = v.token AND j.status = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [S.SUCCEEDED, *params, S.RUNNING])
            return cursor.rowcount
    moved = 0
    with transaction.atomic():
        for job_id, token, result, finished_at in items:
            moved += succeed(job_id, token=token, result=result, now=finished_at)
    return moved


def json_size(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))
