"""How long finished jobs and their results are kept: per final state, and for results on their own.

``JOBS_RETENTION`` maps a final state to a duration (``"3d"``, ``"12h"``, ``"30m"``); a job row goes
once it has been finished that long. ``JOBS_RESULT_TTL`` clears a finished job's result (the row
stays) once it has been finished that long. Dead letters are failed jobs: they follow ``failed``.
Both settings are checked when the app starts (``jobs.apps``), so a typo stops the process with
a message rather than the daily prune.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from jobs.models import TERMINAL_STATUSES

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``"3d"``, ``"12h"``, ``"30m"``, ``"45s"`` or ``"2w"`` as a timedelta; ValueError otherwise."""
    match = DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration: write a whole number and a unit of s, m, h, d or w (e.g. 3d).")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class RetentionPolicy:
    rows: dict[str, timedelta]  # final state → how long its rows are kept after they finish
    result_ttl: timedelta | None  # None: results are kept as long as their rows

    def row_expires_at(self, *, status: str, finished_at: datetime | None) -> datetime | None:
        keep = self.rows.get(status)
        return finished_at + keep if finished_at and keep is not None else None

    def result_expires_at(self, *, status: str, finished_at: datetime | None) -> datetime | None:
        row = self.row_expires_at(status=status, finished_at=finished_at)
        if self.result_ttl is None or finished_at is None or status not in TERMINAL_STATUSES:
            return row
        result = finished_at + self.result_ttl
        return min(result, row) if row else result


def policy() -> RetentionPolicy:
    """The policy in the settings; ImproperlyConfigured naming the bad entry when it does not parse."""
    configured = getattr(settings, "JOBS_RETENTION", None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured("JOBS_RETENTION must map final states to durations, e.g. {'failed': '90d'}.")
    unknown = set(configured) - {str(s) for s in TERMINAL_STATUSES}
    if unknown:
        raise ImproperlyConfigured(
            f"JOBS_RETENTION has unknown state(s) {', '.join(sorted(unknown))}: "
            f"only {', '.join(TERMINAL_STATUSES)} jobs are pruned."
        )
    fallback = timedelta(days=settings.JOBS["RETENTION_DAYS"])
    rows = {}
    for status in map(str, TERMINAL_STATUSES):
        try:
            rows[status] = parse_duration(configured[status]) if status in configured else fallback
        except ValueError as exc:
            raise ImproperlyConfigured(f"JOBS_RETENTION[{status!r}]: {exc}") from None
    ttl = getattr(settings, "JOBS_RESULT_TTL", "") or None
    try:
        result_ttl = parse_duration(ttl) if ttl else None
    except ValueError as exc:
        raise ImproperlyConfigured(f"JOBS_RESULT_TTL: {exc}") from None
    return RetentionPolicy(rows=rows, result_ttl=result_ttl)
