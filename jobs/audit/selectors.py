"""Reads of the audit trail for its page, its API and the job's page."""

from __future__ import annotations

from django.db.models import QuerySet

from jobs.audit.models import AuditEntry


def audit_list(*, action=None, user=None, target_type=None, target_id=None, since=None, until=None) -> QuerySet:
    """Audit rows, newest first; ``user`` is a username (kept after the user is deleted)."""
    qs = AuditEntry.objects.all()
    if action:
        qs = qs.filter(action=action)
    if user:
        qs = qs.filter(username=user)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=str(target_id))
    if since:
        qs = qs.filter(at__gte=since)
    if until:
        qs = qs.filter(at__lt=until)
    return qs.order_by("-at", "-id")


def audit_for_target(target_type: str, target_id, *, limit: int = 50) -> list[AuditEntry]:
    return list(audit_list(target_type=target_type, target_id=target_id)[:limit])


def audit_actions() -> list[str]:
    """The actions recorded so far, for the page's filter."""
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()[:200])


def audit_page(qs: QuerySet, *, after=None, before=None, size: int = 50) -> dict:
    """One keyset page of ``qs`` on (at, id), newest first (same shape as the jobs list's pages)."""
    if before is not None:
        at, pk = before
        rows = list(qs.filter(at__gte=at).exclude(at=at, pk__lte=pk).order_by("at", "id")[: size + 1])
        has_newer, has_older = len(rows) > size, True
        rows = list(reversed(rows[:size]))
    else:
        if after is not None:
            at, pk = after
            qs = qs.filter(at__lte=at).exclude(at=at, pk__gte=pk)
        rows = list(qs.order_by("-at", "-id")[: size + 1])
        has_newer, has_older = after is not None, len(rows) > size
        rows = rows[:size]
    return {
        "rows": rows,
        "newer": (rows[0].at, rows[0].pk) if rows and has_newer else None,
        "older": (rows[-1].at, rows[-1].pk) if rows and has_older else None,
    }
