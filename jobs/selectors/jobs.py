"""Reads of jobs for the API, the pages and the commands: lists, keyset pages, details, dead letters."""

from __future__ import annotations

from datetime import UTC

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils.dateparse import parse_datetime

from jobs.models import DEAD_STATUSES, Job, JobStatus
from jobs.search import search_filter

S = JobStatus


# A search within failed or cancelled jobs (_search_among_dead): how many of the newest such jobs
# the probe reads, how many of them must match for a walk in page order to be quick (one in ten),
# and the most matches a sparse search is narrowed to by id.
SEARCH_PROBE_ROWS = 200
SEARCH_DENSE_HITS = 20
SEARCH_NARROW_MAX = 1000


def job_list(
    *, status=None, actor=None, queue=None, error_type=None, created_after=None, created_before=None, search=None
) -> QuerySet:
    statuses = list(status) if isinstance(status, (list, tuple)) else [status] if status else []
    conditions = Q()
    if actor:
        conditions &= Q(actor_name=actor)
    if queue:
        conditions &= Q(queue_name=queue)
    if error_type:
        conditions &= Q(error_type=error_type)
    if created_after:
        conditions &= Q(created_at__gte=created_after)
    if created_before:
        conditions &= Q(created_at__lt=created_before)
    qs = Job.objects.filter(status__in=statuses) if statuses else Job.objects.all()
    if search and search.strip():
        # Indexed on PostgreSQL (trigram and jsonb GIN): see jobs.search.
        if statuses and set(statuses) <= set(DEAD_STATUSES) and connection.vendor == "postgresql":
            conditions &= search_filter(search, vendor=connection.vendor, on_jobs=True)
            return _search_among_dead(qs, conditions).defer("result", "args", "kwargs")
        conditions &= search_filter(search, vendor=connection.vendor)
    return qs.filter(conditions).defer("result", "args", "kwargs")


def _search_among_dead(dead: QuerySet, conditions: Q) -> QuerySet:
    """The failed or cancelled jobs ``dead`` that meet ``conditions`` (a search, maybe with other
    filters): the same jobs, with a plan that stays quick when few of them match.

    A page walks the jobs newest first and checks each, stopping when the page is full; the
    planner takes that walk because it expects a fifth or so of the jobs to match a key:value
    term. When few or none do, the walk reads every failed job (a heap page each: 190 ms at
    50,000). So the newest SEARCH_PROBE_ROWS of ``dead`` are checked first (a few milliseconds):
    if one in ten matches, the walk stays; if they are all there is, their matches are the
    answer. If not, the matches come from the partial search indexes over failed and cancelled
    jobs (migration 0015), a bitmap that costs what matches, and the page is read by their ids.
    More than SEARCH_NARROW_MAX matches after a sparse start: the walk again.
    """
    matching = dead.filter(conditions)
    probe = list(
        dead.annotate(hit=ExpressionWrapper(conditions, output_field=BooleanField()))
        .order_by("-created_at", "-id")
        .values_list("pk", "hit")[:SEARCH_PROBE_ROWS]
    )
    if len(probe) < SEARCH_PROBE_ROWS:  # every one of them checked: the matches are known
        return matching.filter(pk__in=[pk for pk, hit in probe if hit])
    if sum(1 for _, hit in probe if hit) >= SEARCH_DENSE_HITS:
        return matching  # the walk finds a page quickly
    sql, params = matching.order_by().values_list("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        # Materialised: planned for all its rows (the bitmap), not for the first few (the walk).
        cursor.execute(f"WITH m AS MATERIALIZED ({sql}) SELECT * FROM m LIMIT %s", [*params, SEARCH_NARROW_MAX + 1])
        ids = [row[0] for row in cursor.fetchall()]
    if len(ids) > SEARCH_NARROW_MAX:
        return matching
    return matching.filter(pk__in=ids)


def job_get(job_id) -> Job | None:
    try:
        return Job.objects.select_related("parent", "rerun_of").prefetch_related("attempt_log").get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError, ValidationError):
        return None


LIST_FIELDS = (
    "id",
    "actor_name",
    "queue_name",
    "status",
    "attempts",
    "max_attempts",
    "progress",
    "created_at",
    "started_at",
    "finished_at",
    "error_type",
)


def job_list_page(qs: QuerySet, *, after=None, before=None, size: int = 50) -> dict:
    """One keyset page of ``qs`` on (created_at, id), newest first: the same cost at any depth.

    ``after`` / ``before`` are (created_at, id) of the row the page follows or precedes.
    Returns rows, and the keys of the first and last rows when newer or older rows exist.
    """
    qs = qs.only(*LIST_FIELDS)
    if before is not None:
        created_at, pk = before
        # "created_at >= t" is the part an index can range-scan; the tie on t is settled by id.
        rows = list(
            qs.filter(created_at__gte=created_at)
            .exclude(created_at=created_at, pk__lte=pk)
            .order_by("created_at", "id")[: size + 1]
        )
        has_newer, has_older = len(rows) > size, True
        rows = list(reversed(rows[:size]))
    else:
        if after is not None:
            created_at, pk = after
            qs = qs.filter(created_at__lte=created_at).exclude(created_at=created_at, pk__gte=pk)
        rows = list(qs.order_by("-created_at", "-id")[: size + 1])
        has_newer, has_older = after is not None, len(rows) > size
        rows = rows[:size]
    return {
        "rows": rows,
        "newer": (rows[0].created_at, rows[0].pk) if rows and has_newer else None,
        "older": (rows[-1].created_at, rows[-1].pk) if rows and has_older else None,
    }


def jobs_by_ids(ids) -> QuerySet:
    return Job.objects.filter(pk__in=list(ids))


def job_children(job_id, *, limit: int = 50) -> list[Job]:
    return list(Job.objects.filter(parent_id=job_id).only(*LIST_FIELDS).order_by("-created_at", "-id")[:limit])


def job_reruns(job_id, *, limit: int = 50) -> list[Job]:
    """Copies an operator submitted from this job with edited arguments, newest first."""
    return list(Job.objects.filter(rerun_of_id=job_id).only(*LIST_FIELDS).order_by("-created_at", "-id")[:limit])


def dead_letter_jobs(*, actor: str | None = None, error_type: str | None = None) -> QuerySet:
    qs = Job.objects.filter(status=S.FAILED)
    if actor is not None:
        qs = qs.filter(actor_name=actor)
    if error_type is not None:
        qs = qs.filter(error_type=error_type)
    return qs


def dead_letter_groups(*, limit: int = 200) -> list[dict]:
    """Failed jobs grouped by actor and error type, largest group first, with the latest message.

    The groups come from the partial index of failed jobs alone (``job_dead_group_idx``, an
    index-only scan); each group's sample is one backward step of that index, so the page costs
    the failed jobs' index, never a scan of every job nor a read of every message.
    """
    table = Job._meta.db_table
    sql = f"""
        SELECT g.actor_name, g.error_type, g.n, g.first, g.last,
               (SELECT j.error_message FROM {table} j
                 WHERE j.status = %s AND j.actor_name = g.actor_name AND j.error_type = g.error_type
                 ORDER BY j.finished_at DESC LIMIT 1) AS sample
          FROM (SELECT actor_name, error_type, COUNT(*) AS n, MIN(finished_at) AS first, MAX(finished_at) AS last
                  FROM {table} WHERE status = %s
                 GROUP BY actor_name, error_type
                 ORDER BY n DESC, actor_name, error_type
                 LIMIT %s) g
         ORDER BY g.n DESC, g.actor_name, g.error_type"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [S.FAILED, S.FAILED, limit])
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    if connection.vendor == "sqlite":  # raw SQL on SQLite gives the stored UTC text back
        for row in rows:
            for key in ("first", "last"):
                row[key] = parse_datetime(row[key]).replace(tzinfo=UTC) if row[key] else None
    return rows
