"""Writes of reports: request one (row + job), generate it in the job, keeping its status true.

A report's status moves PENDING → RUNNING → COMPLETE or FAILED, each move a conditional update
(a failed attempt with a retry left moves it back to PENDING, then RUNNING again).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from jobs.errors import JobCancelled, PermanentError, ValidationFailed
from jobs.models import Job
from jobs.services import job_submit
from reports import files, selectors
from reports.computations import store_uptime, task_execution
from reports.models import Report, ReportKind, ReportStatus

S = ReportStatus

ACTORS = {
    ReportKind.STORE_UPTIME: "reports.generate_store_report",
    ReportKind.TASK_EXECUTION: "reports.generate_task_report",
}
REPORTS_QUEUE = "reports"
MAX_TASK_REPORT_PERIOD = timedelta(days=366)
DEFAULT_TASK_REPORT_PERIOD = timedelta(days=1)


# --- Requesting reports ----------------------------------------------------------------------------


def _parse_instant(value, field_name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed(
                f"{field_name} is not an ISO 8601 date and time.", details={"field": field_name}
            ) from None
    if timezone.is_naive(moment):
        raise ValidationFailed(f"{field_name} must include a time zone.", details={"field": field_name})
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValidationFailed(
            f"{field_name} is outside the years 1 to 9999 in UTC.", details={"field": field_name}
        ) from None


def _task_report_parameters(parameters: Mapping) -> dict:
    until = _parse_instant(parameters.get("until"), "until") or timezone.now().astimezone(UTC)
    since = _parse_instant(parameters.get("since"), "since")
    if since is None:
        try:
            since = until - DEFAULT_TASK_REPORT_PERIOD
        except OverflowError:  # until within the first day of year 1: no default day before it
            raise ValidationFailed(
                "until leaves no day before it in the calendar (year 1); give since too.", details={"field": "until"}
            ) from None
    if since >= until:
        raise ValidationFailed("since must be before until.", details={"field": "since"})
    if until - since > MAX_TASK_REPORT_PERIOD:
        raise ValidationFailed("The period may not exceed 366 days.", details={"field": "since"})
    return {"since": since.isoformat(), "until": until.isoformat()}


def report_request(*, kind: str = ReportKind.STORE_UPTIME, requested_by=None, parameters: Mapping | None = None):
    """Create a PENDING report and submit its job (published once the transaction commits)."""
    if kind not in ACTORS:
        raise ValidationFailed(f"Unknown report kind {kind!r}.", details={"valid_kinds": list(ACTORS)})
    parameters = dict(parameters or {})
    if kind == ReportKind.TASK_EXECUTION:
        parameters = _task_report_parameters(parameters)
    elif parameters:
        raise ValidationFailed("The store uptime report takes no parameters.", details={"parameters": parameters})
    user = requested_by if requested_by is not None and requested_by.is_authenticated else None
    with transaction.atomic():
        report = Report.objects.create(kind=kind, status=S.PENDING, requested_by=user, parameters=parameters)
        submitted = job_submit(actor_name=ACTORS[kind], args=[str(report.id)], queue=REPORTS_QUEUE)
        report.job = submitted.job
        report.save(update_fields=["job"])
    return report


# --- Generating reports ----------------------------------------------------------------------------


def _move(report_id, target: str, *, only_from: tuple[str, ...], **fields) -> bool:
    return Report.objects.filter(pk=report_id, status__in=only_from).update(status=target, **fields) == 1


def _progress_of(job):
    def progress(percent: float, message: str) -> None:
        if job is not None:
            job.progress(percent, message)

    return progress


def _run(report_id, job, kind: str, generate) -> dict:
    """Run ``generate(report, progress)`` for a report, keeping its status true; returns a job result."""
    report = selectors.report_get(report_id)
    if report is None:
        raise PermanentError(f"Report {report_id} does not exist.")
    if report.kind != kind:
        raise PermanentError(f"Report {report_id} is a {report.kind} report, not {kind}.")
    if report.status == S.COMPLETE:  # a duplicate delivery: the work is done
        return {"report_id": str(report.id), "status": report.status, "rows": report.row_count}
    started = timezone.now()
    if not _move(report.pk, S.RUNNING, only_from=(S.PENDING, S.RUNNING, S.FAILED), started_at=started, error=""):
        raise PermanentError(f"Report {report_id} changed state meanwhile.")
    try:
        rows = generate(report, _progress_of(job))
    except JobCancelled:
        _move(report.pk, S.FAILED, only_from=(S.RUNNING,), finished_at=timezone.now(), error="The job was cancelled.")
        raise
    except BaseException as exc:  # also the worker's time limit and shutdown interrupts
        final = job is None or isinstance(exc, PermanentError) or job.attempt >= job.max_attempts
        message = f"{type(exc).__name__}: {exc}"[:5000]
        if final:
            _move(report.pk, S.FAILED, only_from=(S.RUNNING,), finished_at=timezone.now(), error=message)
        else:
            _move(
                report.pk, S.PENDING, only_from=(S.RUNNING,), error=f"Attempt {job.attempt} failed, retrying: {message}"
            )
        raise
    csv_name, json_name = files.file_names(kind=report.kind, report_id=report.id)
    _move(
        report.pk,
        S.COMPLETE,
        only_from=(S.RUNNING,),
        finished_at=timezone.now(),
        row_count=rows,
        csv_file=csv_name,
        metadata_file=json_name,
        error="",
    )
    return {"report_id": str(report.id), "status": S.COMPLETE, "rows": rows}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC).isoformat(timespec="microseconds")


def _generate_store_report(report: Report, progress) -> int:
    timings = {}
    started = time.perf_counter()
    progress(2, "reading store data")
    data = selectors.store_data()
    timings["read"] = time.perf_counter() - started

    mark = time.perf_counter()
    try:
        result = store_uptime.compute_store_uptime(
            data, progress=lambda percent, message: progress(5 + 0.85 * percent, message)
        )
    except store_uptime.NoPolls as exc:
        raise PermanentError(str(exc)) from None
    timings["compute"] = time.perf_counter() - mark
    del data

    mark = time.perf_counter()
    progress(92, "writing CSV")
    csv_name, json_name = files.file_names(kind=report.kind, report_id=report.id)
    files.write_csv(csv_name, store_uptime.COLUMNS, result.formatted_rows())
    timings["write"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    now = result.now_us
    files.write_json(
        json_name,
        {
            "report_id": str(report.id),
            "kind": report.kind,
            "algorithm": store_uptime.ALGORITHM,
            "specification": "shared/specs/store-report.md (v1)",
            "parameters": {
                "default_timezone": "America/Chicago",
                "units": {"last_hour": "minutes", "last_day": "hours", "last_week": "hours"},
                "number_format": "%.2f; downtime = rounded total - rounded uptime when within 0.005",
            },
            "now": _iso(now),
            "windows": {
                suffix: {"start": _iso(now - length), "end": _iso(now), "closed": "[start, end)"}
                for suffix, length, _ in store_uptime.WINDOWS
            },
            "counts": {**result.counts, "rows": len(result)},
            "timings_seconds": {k: round(v, 4) for k, v in timings.items()},
            "generated_at": timezone.now().isoformat(),
            "csv": {"file": csv_name, "sha256": _sha256(files.path_of(csv_name))},
        },
    )
    progress(99, "done")
    return len(result)


JOB_COLUMNS = ("actor_name", "queue_name", "status", "attempts", "enqueued_at", "started_at", "finished_at")


def _generate_task_report(report: Report, progress) -> int:
    started = time.perf_counter()
    since = datetime.fromisoformat(report.parameters["since"])
    until = datetime.fromisoformat(report.parameters["until"])
    progress(5, "reading jobs")
    rows = Job.objects.filter(created_at__gte=since, created_at__lt=until).order_by().values_list(*JOB_COLUMNS)
    frame = pd.DataFrame.from_records(rows.iterator(chunk_size=20_000), columns=list(task_execution.INPUT_COLUMNS))
    for column in ("enqueued_at", "started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    read_seconds = time.perf_counter() - started
    progress(50, "computing")
    table = task_execution.compute_task_execution(frame)
    progress(80, "writing files")
    csv_name, json_name = files.file_names(kind=report.kind, report_id=report.id)
    records = [[task_execution.format_value(v) for v in row] for row in table.itertuples(index=False)]
    files.write_csv(csv_name, task_execution.COLUMNS, records)
    files.write_json(
        json_name,
        {
            "report_id": str(report.id),
            "kind": report.kind,
            "algorithm": "group jobs by (actor, queue); pandas quantiles",
            "definitions": task_execution.DEFINITIONS,
            "parameters": report.parameters,
            "now": timezone.now().isoformat(),
            "counts": {"jobs": len(frame), "rows": len(table)},
            "timings_seconds": {"read": round(read_seconds, 4), "total": round(time.perf_counter() - started, 4)},
            "csv": {"file": csv_name, "sha256": _sha256(files.path_of(csv_name))},
            "rows": [
                dict(zip(task_execution.COLUMNS, _json_row(row), strict=True)) for row in table.itertuples(index=False)
            ],
        },
    )
    return len(table)


def _json_row(row) -> list:
    values = []
    for value in row:
        if isinstance(value, (np.integer,)):
            value = int(value)
        elif isinstance(value, (float, np.floating)):
            value = None if np.isnan(value) else round(float(value), 4)
        values.append(value)
    return values


def store_report_generate(*, report_id, job=None) -> dict:
    """Compute a store uptime report from the database now; writes its CSV and JSON metadata."""
    return _run(report_id, job, ReportKind.STORE_UPTIME, _generate_store_report)


def task_report_generate(*, report_id, job=None) -> dict:
    """Compute a task execution report for the report's period; writes its CSV and JSON."""
    return _run(report_id, job, ReportKind.TASK_EXECUTION, _generate_task_report)
