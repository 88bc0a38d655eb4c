"""One clock for the engine: the database's.

Heartbeats, cutoffs, leases, start and finish times are written and compared with the database's
``now()``, so hosts whose clocks disagree never judge each other's liveness wrongly. A host's own
clock is only used for what it shows, never for what it decides.

``JOBS_CLOCK_OFFSET_SECONDS`` (tests only) shifts this process's clock, the way a host with a wrong
clock would see time: the fault suite uses it to prove that nothing decides on a host's clock.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models.functions import Now

__all__ = ["Now", "db_now", "now_sql", "install_clock_offset"]


def now_sql() -> str:
    """The database's current time as an SQL expression (statement time on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return "statement_timestamp()"
    return "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"


def db_now() -> datetime:
    """The database's current time (one round trip)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {now_sql()}", [])  # with params: "%%" is unescaped on SQLite too
        value = cursor.fetchone()[0]
    if isinstance(value, str):  # SQLite answers with text, in UTC
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


def install_clock_offset() -> float:
    """Shift ``time.time`` and ``django.utils.timezone.now`` by JOBS_CLOCK_OFFSET_SECONDS (tests only)."""
    offset = float(os.environ.get("JOBS_CLOCK_OFFSET_SECONDS") or 0)
    if not offset:
        return 0.0
    from django.utils import timezone

    real_time, real_now = time.time, timezone.now
    time.time = lambda: real_time() + offset
    timezone.now = lambda: real_now() + timedelta(seconds=offset)
    return offset
