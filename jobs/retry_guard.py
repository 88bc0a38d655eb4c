"""Retrying a job whose idempotency key a newer live job now holds: a 409, not a 500.

The engine keeps an idempotency key unique among live jobs (a database constraint). Retrying a
failed or cancelled job makes it live again, so if a new job with the same key was submitted
meanwhile, the retry's UPDATE breaks the constraint (IntegrityError). Until the engine's retry
services answer that themselves, the API, the pages and the admin go through these guards.
"""

from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q, QuerySet

from jobs import services
from jobs.errors import InvalidTransition
from jobs.models import LIVE_STATUSES, Job


def _key_conflict_message(job_id) -> str:
    return (
        f"Job {job_id} cannot run again: a newer live job holds its idempotency key. "
        "Cancel that job first, or leave this one as it is."
    )


def job_retry(*, job_id) -> Job:
    """``services.job_retry``, with a key conflict as InvalidTransition (409)."""
    try:
        return services.job_retry(job_id=job_id)
    except IntegrityError:
        raise InvalidTransition(_key_conflict_message(job_id), code="idempotency_key_taken") from None


def without_key_conflicts(queryset: QuerySet) -> QuerySet:
    """The retryable jobs of ``queryset`` whose idempotency key (if any) no live job holds, and
    of several sharing a key only the newest: retrying one makes the key live."""
    candidates = queryset.filter(status__in=services.RETRYABLE)
    taken = Job.objects.filter(status__in=LIVE_STATUSES, idempotency_key__isnull=False).values("idempotency_key")
    newer_with_same_key = candidates.filter(
        Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk")),
        idempotency_key=OuterRef("idempotency_key"),
    )
    return candidates.exclude(idempotency_key__in=taken).exclude(Exists(newer_with_same_key))


def jobs_retry_bulk(queryset: QuerySet) -> int:
    """``services.jobs_retry_bulk`` over the jobs it can retry; raises InvalidTransition on a race."""
    try:
        return services.jobs_retry_bulk(without_key_conflicts(queryset))
    except IntegrityError:
        raise InvalidTransition(
            "A job's idempotency key was taken by a new job meanwhile; the jobs before it were retried.",
            code="idempotency_key_taken",
        ) from None
