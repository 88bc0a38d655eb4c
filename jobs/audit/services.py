"""The one writer of the audit trail."""

from __future__ import annotations

from typing import Any

from jobs.audit.models import AuditEntry
from jobs.db import clean_json


def audit_record(
    *,
    user: Any,
    action: str,
    target_type: str = "",
    target_id: Any = "",
    count: int = 1,
    detail: dict | None = None,
) -> AuditEntry:
    """Record that ``user`` (None or anonymous: the system) did ``action`` to a target.

    Call it inside the action's own transaction, so the row and the action commit together.
    """
    real_user = user if getattr(user, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        user=real_user,
        username=real_user.get_username() if real_user else "",
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        count=max(0, int(count)),
        detail=clean_json(detail or {}, limit_bytes=16384),
    )


def audit_complete(*, action: str, target_type: str, target_id: Any, count: int, detail: dict) -> int:
    """Fill in how many jobs a long action (a bulk operation) touched, on the row its submission
    wrote; ``detail`` is merged into the row's. Returns how many rows changed (0 or 1)."""
    entry = (
        AuditEntry.objects.filter(action=action, target_type=target_type, target_id=str(target_id))
        .order_by("-at", "-id")
        .first()
    )
    if entry is None:
        return 0
    entry.count = max(0, int(count))
    entry.detail = clean_json({**entry.detail, **detail}, limit_bytes=16384)
    entry.save(update_fields=["count", "detail"])
    return 1
