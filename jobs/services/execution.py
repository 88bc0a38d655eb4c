"""Writes about running copies: progress, success, failure, release of lost attempts, late effects.

Every write a running copy makes carries its token (``dispatch_token``): once the job was taken from
the copy (released, retried), the write matches nothing, and what the copy did anyway is recorded
on its attempt as a late effect.
"""

from __future__ import annotations

import logging
import traceback as tb
from datetime import timedelta

from django.conf import settings
from django.db import DataError, transaction
from django.db.models import F
from django.db.models.functions import Now
from dramatiq.middleware.time_limit import TimeLimitExceeded

from jobs import registry, states
from jobs.db import clean_json, clean_text
from jobs.errors import JobCancelled
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from jobs.services.dispatch import jobs_publish

logger = logging.getLogger(__name__)
S = JobStatus


# --- Progress and cancellation ---------------------------------------------------------------------


def job_report_progress(ctx, *, percent: float, message: str) -> tuple[bool, bool]:
    """Write progress for the copy holding ``ctx.token``. Returns (cancel requested, fenced)."""
    percent = int(min(max(percent, 0), 100))
    moved = Job.objects.filter(pk=ctx.job_id, dispatch_token=ctx.token, status=S.RUNNING).update(
        progress=percent, progress_message=clean_text(message, 200)
    )
    if not moved:
        return False, True
    return job_cancel_requested(ctx.job_id), False


def job_cancel_requested(job_id) -> bool:
    return Job.objects.filter(pk=job_id, cancel_requested_at__isnull=False).exists()


def copies_state(ctxs) -> dict[str, tuple[str, int, bool]]:
    """(status, token, cancel requested) of the jobs these copies run: one query for a process."""
    rows = Job.objects.filter(pk__in=[c.job_id for c in ctxs]).values_list(
        "id", "status", "dispatch_token", "cancel_requested_at"
    )
    return {str(pk): (status, token, cancel_at is not None) for pk, status, token, cancel_at in rows}


# --- Success -------------------------------------------------------------------------------------


def storable_result(result):
    """What is stored of a result: JSON under the size cap, safe for jsonb; never an error."""
    return clean_json(result, limit_bytes=settings.JOBS["MAX_RESULT_BYTES"])


def jobs_succeed(items) -> set[str]:
    """Mark many copies succeeded in one statement; ``items`` are (job_id, token, storable result),
    optionally followed by the attempt's usage (see ``states.succeed_many``).
    Returns the ids that moved. A row the database refuses (it should not happen: results are
    cleaned) is written alone with a summary in place of its result, so it never sinks its batch."""
    try:
        return states.succeed_many(items)  # autocommit: one round trip
    except DataError as exc:
        logger.error("A batch of %d successes was refused (%s); writing them one by one.", len(items), exc)
    moved: set[str] = set()
    for job_id, token, result, *usage in items:
        try:
            moved |= states.succeed_many([(job_id, token, result, *usage)])
        except DataError as exc:
            summary = {"unstorable_result": clean_text(repr(result), 1000), "reason": clean_text(exc, 200)}
            moved |= states.succeed_many([(job_id, token, summary, *usage)])
    return moved


def job_record_late_effect(*, job_id, attempt: int, outcome: str) -> None:
    """A fenced copy finished anyway: record what it did on the attempt that was taken from it."""
    updated = JobAttempt.objects.filter(job_id=job_id, number=attempt, late_outcome="").update(
        late_outcome=outcome, late_at=Now()
    )
    logger.warning(
        "Job %s: attempt %s %s after the job was taken from it (fenced)%s",
        job_id,
        attempt,
        outcome,
        "" if updated else "; no attempt row to record it on",
    )


# --- Failure ---------------------------------------------------------------------------------------


def format_traceback(exc: BaseException) -> str:
    return "".join(tb.format_exception(type(exc), exc, exc.__traceback__, limit=30))


def job_fail_attempt(ctx, exc: BaseException, *, traceback_text: str = "", usage=None) -> str | None:
    """Record an attempt that raised and move the job to cancelled, failed or retrying; ``usage``
    is what the attempt cost (a ``jobs.observability.usage.AttemptUsage``), if measured.

    Returns the new status, or None when the copy no longer held the job (it was fenced).
    """
    spec = ctx.spec
    error_type = type(exc).__name__
    error_message = clean_text(exc, 5000)
    timed_out = isinstance(exc, TimeLimitExceeded)
    with transaction.atomic():
        row = (
            Job.objects.select_for_update()
            .filter(pk=ctx.job_id, dispatch_token=ctx.token, status=S.RUNNING)
            .values(
                "attempts",
                "uncharged_attempts",
                "max_attempts",
                "cancel_requested_at",
                "retry_cycle_start",
                "started_at",
            )
            .first()
        )
        if row is None:
            return None
        target = states.after_unsuccessful_attempt(
            cancel_requested=isinstance(exc, JobCancelled) or row["cancel_requested_at"] is not None,
            permanent=spec is None or spec.is_permanent(exc),
            charged_attempts=row["attempts"] - row["uncharged_attempts"],
            max_attempts=row["max_attempts"],
        )
        fields = {"finished_at": Now(), "error_type": error_type, "error_message": error_message}
        if target == S.RETRYING:
            fields.update(_retry_later(spec, row))
        else:
            fields["crash_suspect"] = False
        states.transition(ctx.job_id, "fail", target, where={"dispatch_token": ctx.token}, **fields)
        outcome = {
            S.CANCELLED: AttemptOutcome.CANCELLED,
            S.FAILED: AttemptOutcome.TIMEOUT if timed_out else AttemptOutcome.FAILED,
            S.RETRYING: AttemptOutcome.TIMEOUT if timed_out else AttemptOutcome.FAILED,
        }[target]
        JobAttempt.objects.create(
            job_id=ctx.job_id,
            number=ctx.attempt,
            outcome=outcome,
            worker_id=ctx.worker_id,
            started_at=row["started_at"],  # the claim's, by the database clock (not the worker host's)
            error_type=error_type,
            error_message=error_message,
            traceback=clean_text(traceback_text[-20000:]),
            **(usage._asdict() if usage is not None else {}),
        )
    return target


def _retry_later(spec, row, *, charged: bool = True) -> dict:
    """The fields of a job going back to wait: a new token, unpublished, available after the backoff
    (charged attempts) or at once (attempts lost through no fault of the job)."""
    fields = {"dispatch_token": F("dispatch_token") + 1, "enqueued_at": None, "available_at": Now()}
    if charged and spec is not None:
        failed_attempt = max(row["attempts"] - row["uncharged_attempts"] - row["retry_cycle_start"], 1)
        fields["available_at"] = Now() + timedelta(seconds=spec.retry.delay(failed_attempt))
    return fields


# --- Release: attempts whose worker process died, stopped, or whose host went silent --------------


class ReleaseReason:
    CRASH = "crash"  # the process died by itself or was killed from outside
    TIMEOUT = "timeout"  # killed by its supervisor: one of its jobs passed its hard time limit
    STOPPED = "stopped"  # it was stopped (shutdown) before its jobs finished
    HOST_LOST = "host_lost"  # its host stopped heartbeating
    ORPHANED = "orphaned"  # the process no longer runs it (a success lost by a database crash)


# A job lost this many times without being charged fails anyway: nothing loops forever.
MAX_UNCHARGED_ATTEMPTS = 25


def jobs_release(*, worker_ids, reason: str, culprit_job_id=None, job_ids=None, detail: str = "") -> list[str]:
    """Release the running jobs of the given worker processes; returns the ids released.

    Who pays (see ``blame``): the job the supervisor killed for its time limit (``timeout``); after
    a crash, the job that ran alone in its process, or else the one crash suspect among those that
    shared it. Nobody else: stops, lost hosts and orphans charge nobody. Uncharged attempts go back
    at the head of their queues at once; charged ones wait for their backoff.
    """
    released: list[str] = []
    front: list[str] = []
    with transaction.atomic():
        rows_query = Job.objects.select_for_update(skip_locked=True).filter(status=S.RUNNING, worker_id__in=worker_ids)
        if job_ids is not None:
            rows_query = rows_query.filter(pk__in=job_ids)
        rows = list(
            rows_query.values(
                "id",
                "actor_name",
                "dispatch_token",
                "worker_id",
                "attempts",
                "uncharged_attempts",
                "max_attempts",
                "retry_cycle_start",
                "cancel_requested_at",
                "started_at",
                "crash_suspect",
            )
        )
        sharing: dict[str, list[tuple[str, bool]]] = {}  # every job the process ran when it died
        for job_id, worker_id, suspect in Job.objects.filter(status=S.RUNNING, worker_id__in=worker_ids).values_list(
            "id", "worker_id", "crash_suspect"
        ):
            sharing.setdefault(worker_id, []).append((str(job_id), suspect))
        blamed, suspects = set(), set()
        if reason == ReleaseReason.TIMEOUT and culprit_job_id is not None:
            blamed.add(str(culprit_job_id))
        elif reason == ReleaseReason.CRASH:
            for together in sharing.values():
                culprit, unsure = blame(together)
                blamed |= culprit
                suspects |= unsure
        for row in rows:
            job_id = str(row["id"])
            charged = job_id in blamed
            timed_out = reason == ReleaseReason.TIMEOUT and charged
            target = _release_one(
                row, reason=reason, charged=charged, timed_out=timed_out, suspect=job_id in suspects, detail=detail
            )
            if target is None:
                continue
            released.append(job_id)
            if target == S.RETRYING and not charged:
                front.append(row["id"])
        if front:
            # Published while this transaction still holds their rows: another host's dispatcher
            # (it skips locked rows) cannot take them first and send them to the back of the queue.
            # A worker that fetches one before the commit waits for it (states.claim_many).
            jobs_publish(front, front=True)
    return released


def blame(together: list[tuple[str, bool]]) -> tuple[set[str], set[str]]:
    """Who killed a worker process that died by itself, given the jobs it ran (id, suspect).

    Returns (charged, new suspects). A job that ran alone is charged. Of several, the one crash
    suspect among them is charged (a process runs one suspect at a time), the others are not.
    With no suspect, or several (a process that ran jobs before the rule), nobody can be blamed:
    nobody is charged and all become suspects, so that their next crash finds the culprit.
    """
    if len(together) == 1:
        return {together[0][0]}, set()
    suspected = [job_id for job_id, suspect in together if suspect]
    if len(suspected) == 1:
        return set(suspected), set()
    return set(), {job_id for job_id, _ in together}


def _release_one(row, *, reason: str, charged: bool, timed_out: bool, suspect: bool, detail: str) -> str | None:
    spec = registry.get_spec(row["actor_name"])
    uncharged = row["uncharged_attempts"] + (0 if charged else 1)
    target = states.after_unsuccessful_attempt(
        cancel_requested=row["cancel_requested_at"] is not None,
        permanent=False,
        charged_attempts=row["attempts"] - uncharged,
        max_attempts=row["max_attempts"],
    )
    if target == S.RETRYING and uncharged > MAX_UNCHARGED_ATTEMPTS:
        target = S.FAILED
    error_type = "TimeLimitExceeded" if timed_out else "WorkerLost"
    message = _release_message(row, reason=reason, charged=charged, timed_out=timed_out, detail=detail)
    fields = {
        "finished_at": Now(),
        "error_type": error_type,
        "error_message": message,
        "uncharged_attempts": uncharged,
    }
    if suspect:
        fields["crash_suspect"] = True
    if target == S.RETRYING:
        fields.update(_retry_later(spec, {**row, "uncharged_attempts": uncharged}, charged=charged))
    moved = states.transition(
        row["id"],
        "release",
        target,
        where={"dispatch_token": row["dispatch_token"], "worker_id": row["worker_id"]},
        **fields,
    )
    if not moved:
        return None
    JobAttempt.objects.update_or_create(
        job_id=row["id"],
        number=row["attempts"],
        defaults={
            "outcome": AttemptOutcome.TIMEOUT if timed_out else AttemptOutcome.LOST,
            "charged": charged,
            "worker_id": row["worker_id"],
            "started_at": row["started_at"],
            "error_type": error_type,
            "error_message": message,
        },
    )
    logger.warning("Released job %s (%s): %s", row["id"], target, message)
    return target


def _release_message(row, *, reason: str, charged: bool, timed_out: bool, detail: str) -> str:
    worker = row["worker_id"] or "?"
    text = {
        ReleaseReason.CRASH: f"worker process {worker} died during attempt {row['attempts']}",
        ReleaseReason.TIMEOUT: (
            f"attempt {row['attempts']} passed its hard time limit; its worker process {worker} was restarted"
            if timed_out
            else f"worker process {worker} was restarted for another job's time limit during attempt {row['attempts']}"
        ),
        ReleaseReason.STOPPED: f"worker process {worker} stopped before attempt {row['attempts']} finished",
        ReleaseReason.HOST_LOST: f"the host of worker process {worker} went silent during attempt {row['attempts']}",
        ReleaseReason.ORPHANED: f"worker process {worker} no longer ran attempt {row['attempts']}",
    }.get(reason, f"attempt {row['attempts']} was lost ({reason})")
    if detail:
        text += f" ({detail})"
    if not charged:
        text += "; not counted against its retries"
    return text
