"""Reads of the reports app: reports for the API and the pages, store data for the computation."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import QuerySet

from jobs.errors import NotFound
from jobs.models import JobStatus
from reports import bulk
from reports.computations.store_uptime import StoreData
from reports.models import Report, ReportStatus, Store, StoreHours, StorePoll

US_PER_SECOND = 1_000_000


def report_list(*, user=None) -> QuerySet:
    """Reports newest first; with ``user``, only those that user may read (see ``readable_by``)."""
    reports = Report.objects.select_related("job", "requested_by").order_by("-created_at", "-id")
    return reports if user is None else readable_by(reports, user)


def readable_by(reports: QuerySet, user) -> QuerySet:
    """Who may read what: staff read every report; anyone else the reports they requested.

    Scheduled reports (no requester) are therefore for staff only. Reports can hold data that a
    read-only user should not see all of (every actor's failures, every store's uptime).
    """
    if user is not None and user.is_authenticated and user.is_staff:
        return reports
    if user is None or not user.is_authenticated:
        return reports.none()
    return reports.filter(requested_by=user)


def report_get(report_id, *, user=None) -> Report | None:
    """The report with that id (that ``user`` may read), or None for an unknown or malformed id."""
    try:
        key = report_id if isinstance(report_id, uuid.UUID) else uuid.UUID(str(report_id))
    except (ValueError, TypeError, AttributeError):
        return None
    return report_list(user=user).filter(pk=key).first()


def report_get_or_404(report_id, *, user=None) -> Report:
    """Raises NotFound for an unknown report and for one ``user`` may not read (its existence stays hidden)."""
    report = report_get(report_id, user=user)
    if report is None:
        raise NotFound(f"Report {report_id} does not exist.")
    return report


@dataclass(frozen=True)
class ReportState:
    """What a reader sees of a report: its status, with a job that died without telling it taken into account."""

    status: str
    error: str
    progress: int
    progress_message: str


def report_state(report: Report) -> ReportState:
    job = report.job
    status, error = report.status, report.error
    progress = 100 if status == ReportStatus.COMPLETE else (job.progress if job else 0)
    message = job.progress_message if job and not report.is_finished else ""
    # A worker killed mid-report (the reaper fails its job) or a cancelled job never updates the report.
    if not report.is_finished and job is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        status = ReportStatus.FAILED
        error = error or f"The report's job {job.status}: {job.error_type} {job.error_message}".strip()
    return ReportState(status=status, error=error, progress=progress, progress_message=message)


def store_data_counts() -> dict[str, int]:
    return {
        "stores": Store.objects.count(),
        "polls": StorePoll.objects.count(),
        "hours_rows": StoreHours.objects.count(),
        "stores_with_timezone": Store.objects.filter(timezone_str__isnull=False).count(),
    }


@contextmanager
def _snapshot():
    """One consistent view of the store tables while they are read (an import may run meanwhile)."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield
    else:
        with transaction.atomic():
            yield


def store_data() -> StoreData:
    """Every store, poll and hours row as arrays for ``compute_store_uptime``."""
    with _snapshot():
        stores = list(Store.objects.order_by().values_list("id", "store_id", "timezone_str"))
        poll_keys, poll_time_us, poll_active = bulk.read_polls()
        hours = list(
            StoreHours.objects.order_by().values_list("store_id", "day_of_week", "start_time_local", "end_time_local")
        )
    keys = pd.Index([s[0] for s in stores])
    hours_keys = np.array([h[0] for h in hours], dtype=np.int64)
    return StoreData(
        store_ids=np.array([s[1] for s in stores], dtype=object),
        timezones=[s[2] for s in stores],
        poll_store=keys.get_indexer(poll_keys).astype(np.int64),
        poll_time_us=poll_time_us,
        poll_active=poll_active,
        hours_store=keys.get_indexer(hours_keys).astype(np.int64),
        hours_day=np.array([h[1] for h in hours], dtype=np.int64),
        hours_start_us=np.array([_time_us(h[2]) for h in hours], dtype=np.int64),
        hours_end_us=np.array([_time_us(h[3]) for h in hours], dtype=np.int64),
    )


def _time_us(value) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * US_PER_SECOND + value.microsecond
