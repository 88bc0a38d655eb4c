"""The one state machine of a job: what can happen to it, under which conditions.

Every change of a job's status is one of the named transitions below. Each is a single conditional
UPDATE that matches only the allowed source states *and* the transition's guard (the fencing token,
a cancel request, publication), so two processes can never move a job backwards, run a cancelled
job, or act for a copy whose job was taken from it; a transition that matched nothing reports it.
Nothing else in the code base writes ``Job.status``.

The columns the guards read:
- ``dispatch_token``: the fencing token. Bumped by every transition that needs a new message
  (retry, release, republish, rerun). A message carries the token it was published with; the copy
  that claims it holds that token, and its every write (progress, success, failure) matches on it.
- ``enqueued_at``: NULL while the current token's message is not on the broker yet.
- ``available_at``: when a waiting job may be published (ETA, end of backoff, or at once).
- ``cancel_requested_at``: a running job was asked to stop; it ends ``cancelled``, never retried.
- ``worker_id``: the process running the claimed copy; liveness is that process's and its host's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models.functions import Now

from jobs.clock import now_sql
from jobs.models import Job, JobStatus

S = JobStatus


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    guard: str


MACHINE = (
    Transition(
        "publish",
        (S.PENDING, S.SCHEDULED, S.RETRYING),
        (S.QUEUED,),
        "its message for the current token is not on the broker yet (enqueued_at IS NULL) and it is due "
        "(available_at <= now); pending jobs are published at once after the commit that created them",
    ),
    Transition(
        "republish",
        (S.QUEUED,),
        (S.QUEUED,),
        "the broker no longer holds its message (a Redis restart lost it): a new token, and a new message "
        "at the head of its queue, so it keeps its place",
    ),
    Transition(
        "claim",
        (S.QUEUED, S.PENDING, S.SCHEDULED, S.RETRYING),
        (S.RUNNING,),
        "the message's token is the row's and no cancel was requested; counts the attempt, records the "
        "worker process; a stale or duplicate message matches nothing and is dropped. A message exists "
        "for the row's token only once published, so a job is claimed from queued, or from the state a "
        "publish still in flight is moving it out of (the claim waits for that publish's row lock)",
    ),
    Transition(
        "succeed",
        (S.RUNNING,),
        (S.SUCCEEDED,),
        "the copy still holds the token; a fenced copy matches nothing and its late effect is recorded "
        "on its attempt. The broker's message is acknowledged only after this commits",
    ),
    Transition(
        "fail",
        (S.RUNNING,),
        (S.CANCELLED, S.FAILED, S.RETRYING),
        "the copy holds the token. Cancelled when a cancel was requested; failed on a permanent error or "
        "with no charged attempt left; else retrying with a new token, available after the backoff",
    ),
    Transition(
        "release",
        (S.RUNNING,),
        (S.CANCELLED, S.FAILED, S.RETRYING),
        "the copy's worker process died or was stopped, or its host went silent; the row still names that "
        "worker and token. Same targets as fail; an attempt lost beside other jobs, or by a stop, is not "
        "charged, and goes back at the head of its queue without backoff",
    ),
    Transition(
        "hold",
        (S.QUEUED, S.PENDING, S.SCHEDULED, S.RETRYING),
        (S.PENDING,),
        "a control (a paused queue, a full concurrency limit, an empty rate budget) kept the message's job "
        "from starting: same guard as claim; a new token, unpublished, available after a short delay; no "
        "attempt counted (jobs.controls)",
    ),
    Transition("cancel", (S.PENDING, S.SCHEDULED, S.QUEUED, S.RETRYING), (S.CANCELLED,), "a waiting job never runs"),
    Transition(
        "request_cancel",
        (S.RUNNING,),
        (S.RUNNING,),
        "sets cancel_requested_at; the running copy stops at its next check (or at once if abortable)",
    ),
    Transition(
        "rerun",
        (S.FAILED, S.CANCELLED),
        (S.PENDING,),
        "an operator's retry: a new token and a fresh retry budget, published after commit",
    ),
)
BY_NAME = {t.name: t for t in MACHINE}

TRANSITIONS: dict[str, frozenset[str]] = {
    status: frozenset(target for t in MACHINE if status in t.sources for target in t.targets if target != status)
    for status in S.values
}


def sources_of(target: str) -> tuple[str, ...]:
    """The states from which ``target`` may be reached by some transition."""
    return tuple(sorted(s for s, targets in TRANSITIONS.items() if target in targets))


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def _check(name: str, target: str) -> Transition:
    spec = BY_NAME[name]
    if target not in spec.targets:
        raise ValueError(f"transition {name!r} cannot end in {target!r}")
    return spec


def transition(job_id, name: str, target: str, *, where=None, **fields) -> bool:
    """Apply the named transition to one job if it is in a source state and ``where`` (the guard's
    columns, e.g. ``{"dispatch_token": 3}``) holds; ``fields`` are written in the same UPDATE.
    Returns True when the job moved."""
    spec = _check(name, target)
    matched = Job.objects.filter(pk=job_id, status__in=spec.sources, **(where or {})).update(
        status=target, status_changed_at=Now(), **fields
    )
    return matched == 1


def transition_many(queryset, name: str, target: str, **fields) -> int:
    """Apply the named transition to every job of ``queryset`` in a source state; returns how many moved."""
    spec = _check(name, target)
    return queryset.filter(status__in=spec.sources).update(status=target, status_changed_at=Now(), **fields)


# --- After a failed or lost attempt: the one decision ----------------------------------------------


def after_unsuccessful_attempt(*, cancel_requested: bool, permanent: bool, charged_attempts: int, max_attempts: int):
    """Where a job goes when an attempt did not succeed: cancelled, failed or retrying."""
    if cancel_requested:
        return S.CANCELLED
    if permanent or charged_attempts >= max_attempts:
        return S.FAILED
    return S.RETRYING


# --- The worker's hot path: raw SQL, one statement for many jobs ---------------------------------


@dataclass(frozen=True)
class Claim:
    attempts: int
    max_attempts: int
    retry_cycle_start: int = 0
    uncharged_attempts: int = 0


_table = Job._meta.db_table
# {j} is the table's alias where the statement has one (PostgreSQL's UPDATE … FROM VALUES), else
# nothing (SQLite's RETURNING cannot name an alias).
_CLAIM_SET = (
    "status = 'running', status_changed_at = {now}, attempts = {j}attempts + 1, started_at = {now}, "
    "finished_at = NULL, worker_id = %s, progress = 0, progress_message = ''"
)
# A message exists for the row's token only once it was published, so the guard admits any
# status a message can find a publishable job in: a claim that meets a publish still in flight
# (messages go to Redis inside the publisher's transaction) then waits for its row lock and
# re-checks the committed row, instead of finding it still pending and dropping the message.
_CLAIM_GUARD = (
    "{j}dispatch_token = {token} AND ({j}status IN ('queued', 'pending', 'scheduled', 'retrying')) IS TRUE "
    "AND {j}cancel_requested_at IS NULL"
)
_CLAIM_RETURNING = "{j}id, {j}attempts, {j}max_attempts, {j}retry_cycle_start, {j}uncharged_attempts"


def claim_many(requests, *, worker_id: str) -> dict[str, Claim]:
    """Claim many (job_id, token) for one worker process in one statement; returns the claims that
    matched, by job id. A job asked for twice in one batch is claimed once, for its newest token."""
    unique: dict[str, int] = {}  # job id → the newest token asked for (the only one that can match)
    for job_id, token in requests:
        unique[str(job_id)] = max(unique.get(str(job_id), int(token)), int(token))
    if not unique:
        return {}
    unique = dict(sorted(unique.items()))  # rows locked in id order: no lock cycle between batches
    now = now_sql()
    if connection.vendor == "postgresql":
        # Arrays, not a VALUES list: one statement text whatever the batch's size, two parameters
        # to adapt instead of two per job.
        sql = (
            f"UPDATE {_table} AS j SET {_CLAIM_SET.format(now=now, j='j.')} "
            "FROM unnest(%s::uuid[], %s::integer[]) AS v(id, token) "
            f"WHERE j.id = v.id AND {_CLAIM_GUARD.format(j='j.', token='v.token')} "
            f"RETURNING {_CLAIM_RETURNING.format(j='j.')}"
        )
        params = [worker_id, list(unique), list(unique.values())]
        with connection.cursor() as cursor:
            cursor.execute(_hot_path_prefix() + sql, params)
            rows = cursor.fetchall()
    else:  # SQLite: one UPDATE per job in one transaction (RETURNING cannot name an alias there)
        rows = []
        sql = (
            f"UPDATE {_table} SET {_CLAIM_SET.format(now=now, j='')} WHERE id = %s AND "
            f"{_CLAIM_GUARD.format(j='', token='%s')} RETURNING {_CLAIM_RETURNING.format(j='')}"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            for job_id, token in unique.items():
                cursor.execute(sql, [worker_id, Job._meta.pk.get_db_prep_value(job_id, connection), token])
                rows += cursor.fetchall()
    return {_id(row[0]): Claim(*row[1:]) for row in rows}


def succeed_many(items) -> set[str]:
    """running → succeeded for many copies in one statement; ``items`` are (job_id, token, result)
    with JSON-safe results, optionally followed by the attempt's usage (cpu_seconds,
    peak_rss_bytes, rss_growth_bytes). Returns the ids that moved; the others' copies had been fenced."""
    if not items:
        return set()
    now = now_sql()
    set_clause = (
        f"status = 'succeeded', status_changed_at = {now}, finished_at = {now}, result = v.result, progress = 100, "
        "cpu_seconds = v.cpu, peak_rss_bytes = v.peak, rss_growth_bytes = v.growth"
    )
    guard = "j.id = v.id AND j.dispatch_token = v.token AND (j.status = 'running') IS TRUE"
    if connection.vendor == "postgresql":
        rows = [(str(job_id), token, _json(result), *_usage(usage)) for job_id, token, result, *usage in items]
        sql = (
            f"UPDATE {_table} AS j SET {set_clause} FROM unnest(%s::uuid[], %s::integer[], %s::jsonb[], "
            "%s::float8[], %s::bigint[], %s::bigint[]) AS v(id, token, result, cpu, peak, growth) "
            f"WHERE {guard} RETURNING j.id"
        )
        params = [list(column) for column in zip(*rows, strict=True)]  # one array per column
        with connection.cursor() as cursor:
            cursor.execute(_hot_path_prefix() + sql, params)
            return {_id(row[0]) for row in cursor.fetchall()}
    moved = set()
    for column in ("result", "cpu", "peak", "growth"):
        set_clause = set_clause.replace(f"v.{column}", "%s")
    sql = f"UPDATE {_table} SET {set_clause} WHERE id = %s AND dispatch_token = %s AND status = 'running' RETURNING id"
    with transaction.atomic(), connection.cursor() as cursor:
        for job_id, token, result, *usage in items:
            params = [_json(result), *_usage(usage), Job._meta.pk.get_db_prep_value(job_id, connection), token]
            cursor.execute(sql, params)
            moved |= {_id(row[0]) for row in cursor.fetchall()}
    return moved


def _usage(usage) -> list:
    """(cpu_seconds, peak_rss_bytes, rss_growth_bytes) of a success item, None where not measured."""
    return list(usage[:3]) if usage else [None, None, None]


def _id(value) -> str:
    """A job id as the API spells it, whatever the database returned (SQLite: hex without dashes)."""
    return str(Job._meta.pk.to_python(value))


def _json(value):
    return None if value is None else connection.ops.adapt_json_value(value, None)


def _hot_path_prefix() -> str:
    """Settings for the one implicit transaction of a claim or success batch (PostgreSQL).

    - The plan is pinned to looking jobs up by id: the status guard is written ``(status = …) IS
      TRUE`` so that no status index can drive the statement, and sequential scans are off. Stale
      statistics (a backlog that grew since the last ANALYZE) once made PostgreSQL scan every
      queued job for each batch: 16 ms instead of 0.1 ms.
    - With JOBS_FAST_COMMIT (off by default), the commit does not wait for the WAL flush. Nothing is
      lost if the database crashes: a lost claim leaves the job queued with a message Redis no
      longer holds (republished); a lost success leaves it running on a worker that no longer runs
      it (released by that worker's reconciliation). But such a job runs again: a duplicate effect
      no worker's death explains. A clean restart loses nothing.
    Sent with the UPDATE as one implicit transaction, so nothing leaks into a pooled connection
    (PgBouncer in transaction mode).
    """
    from django.conf import settings

    prefix = "SET LOCAL enable_seqscan = off; "
    if settings.JOBS["FAST_COMMIT"]:
        prefix += "SET LOCAL synchronous_commit = off; "
    return prefix
