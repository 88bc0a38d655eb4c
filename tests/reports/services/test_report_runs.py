"""Requesting and generating reports: status moves, files, failures, the task execution report."""

import csv
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.errors import JobCancelled, PermanentError, ValidationFailed
from jobs.models import Job, JobStatus
from reports import selectors, services
from reports.models import Report, ReportStatus
from tests.reports.samples import HOURS, STATUS, ZONES


class FakeJob:
    """What an actor's ``current_job()`` offers a service: attempts and progress."""

    def __init__(self, attempt=1, max_attempts=2):
        self.attempt, self.max_attempts = attempt, max_attempts
        self.progress_calls = []

    def progress(self, percent, message=""):
        self.progress_calls.append((percent, message))


# --- Store reports --------------------------------------------------------------------------------


def test_a_report_request_submits_its_job(db, staff_user):
    report = services.report_request(kind="store_uptime", requested_by=staff_user)
    assert report.status == ReportStatus.PENDING
    job = Job.objects.get(pk=report.job_id)
    assert (job.actor_name, job.queue_name, job.args) == ("reports.generate_store_report", "reports", [str(report.id)])
    assert report.requested_by == staff_user


def test_a_store_report_writes_its_csv_and_metadata(import_stores, settings):
    import_stores(status=STATUS, hours=HOURS, zones=ZONES)
    report = services.report_request()
    job = FakeJob()
    result = services.store_report_generate(report_id=str(report.id), job=job)
    report.refresh_from_db()
    assert result == {"report_id": str(report.id), "status": "COMPLETE", "rows": 2}
    assert report.status == ReportStatus.COMPLETE and report.row_count == 2
    assert report.started_at <= report.finished_at
    assert report.csv_file == f"store_uptime-{report.id}.csv"
    with open(settings.REPORTS_DIR / report.csv_file, newline="") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == (
        "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,downtime_last_hour,downtime_last_day,downtime_last_week"
    )
    assert [line.split(",")[0] for line in lines[1:]] == ["s1", "s2"]
    assert all(len(value.split(".")[1]) == 2 for line in lines[1:] for value in line.split(",")[1:])

    metadata = json.loads((settings.REPORTS_DIR / report.metadata_file).read_text())
    assert metadata["now"] == "2023-01-23T11:00:00.500000+00:00"
    assert "midpoint" in metadata["algorithm"]
    assert metadata["counts"]["polls"] == 3 and metadata["counts"]["stores"] == 2
    assert set(metadata["timings_seconds"]) == {"read", "compute", "write", "total"}
    assert metadata["windows"]["last_hour"]["start"] == "2023-01-23T10:00:00.500000+00:00"

    percents = [p for p, _ in job.progress_calls]
    assert percents == sorted(percents) and percents[-1] >= 99


def test_a_duplicate_delivery_does_not_redo_a_complete_report(import_stores):
    import_stores(status=STATUS)
    report = services.report_request()
    services.store_report_generate(report_id=report.id)
    finished = Report.objects.get(pk=report.pk).finished_at
    assert services.store_report_generate(report_id=report.id)["status"] == "COMPLETE"
    assert Report.objects.get(pk=report.pk).finished_at == finished


def test_a_report_without_polls_fails_with_its_reason(db):
    report = services.report_request()
    with pytest.raises(PermanentError):
        services.store_report_generate(report_id=report.id, job=FakeJob())
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert "import store_status.csv first" in report.error


def test_a_failed_attempt_with_retries_left_goes_back_to_pending(import_stores, monkeypatch):
    import_stores(status=STATUS)
    report = services.report_request()

    def broken():
        raise RuntimeError("database went away")

    monkeypatch.setattr(selectors, "store_data", broken)
    with pytest.raises(RuntimeError):
        services.store_report_generate(report_id=report.id, job=FakeJob(attempt=1, max_attempts=2))
    report.refresh_from_db()
    assert report.status == ReportStatus.PENDING
    assert "Attempt 1 failed, retrying: RuntimeError: database went away" == report.error

    with pytest.raises(RuntimeError):
        services.store_report_generate(report_id=report.id, job=FakeJob(attempt=2, max_attempts=2))
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert report.error == "RuntimeError: database went away"


def test_a_cancelled_job_fails_its_report(import_stores):
    import_stores(status=STATUS)
    report = services.report_request()

    class Cancelled(FakeJob):
        def progress(self, percent, message=""):
            raise JobCancelled("cancelled")

    with pytest.raises(JobCancelled):
        services.store_report_generate(report_id=report.id, job=Cancelled())
    report.refresh_from_db()
    assert (report.status, report.error) == (ReportStatus.FAILED, "The job was cancelled.")


def test_a_report_whose_job_died_reads_as_failed(db):
    report = services.report_request()
    Job.objects.filter(pk=report.job_id).update(
        status=JobStatus.FAILED, error_type="WorkerLost", error_message="worker died"
    )
    state = selectors.report_state(selectors.report_get(report.id))
    assert state.status == ReportStatus.FAILED
    assert "WorkerLost worker died" in state.error


def test_unknown_reports_and_kinds(db):
    with pytest.raises(PermanentError):
        services.store_report_generate(report_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValidationFailed):
        services.report_request(kind="sales")
    with pytest.raises(ValidationFailed):
        services.report_request(kind="store_uptime", parameters={"since": "2023-01-01T00:00:00Z"})


# --- Task execution reports -----------------------------------------------------------------------


def make_job(actor, queue, status, *, attempts=1, wait=1.0, run=2.0, created=None):
    created = created or timezone.now() - timedelta(hours=1)
    enqueued = created + timedelta(seconds=0.1)
    started = enqueued + timedelta(seconds=wait) if status != JobStatus.QUEUED else None
    finished = started + timedelta(seconds=run) if status in (JobStatus.SUCCEEDED, JobStatus.FAILED) else None
    return Job.objects.create(
        actor_name=actor,
        queue_name=queue,
        status=status,
        status_changed_at=created,
        created_at=created,
        enqueued_at=enqueued,
        started_at=started,
        finished_at=finished,
        attempts=attempts,
    )


def test_the_task_execution_report_groups_by_actor_and_queue(db, settings):
    for run in (1.0, 2.0, 3.0, 4.0):
        make_job("echo", "default", JobStatus.SUCCEEDED, run=run, wait=run / 10)
    make_job("echo", "default", JobStatus.FAILED, attempts=4, run=10.0)
    make_job("echo", "scans", JobStatus.QUEUED)
    make_job("old", "default", JobStatus.SUCCEEDED, created=timezone.now() - timedelta(days=3))  # outside the period
    report = services.report_request(kind="task_execution")
    assert set(report.parameters) == {"since", "until"}
    services.task_report_generate(report_id=report.id)
    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE, report.error
    with open(settings.REPORTS_DIR / report.csv_file, newline="") as handle:
        rows = {(r["actor"], r["queue"]): r for r in csv.DictReader(handle)}
    assert set(rows) == {("echo", "default"), ("echo", "scans")}
    default = rows[("echo", "default")]
    assert (default["jobs"], default["succeeded"], default["failed"], default["unfinished"]) == ("5", "4", "1", "0")
    assert default["success_rate"] == "0.800"
    assert default["retries"] == "3"
    assert default["run_p50_s"] == "3.000"  # 1, 2, 3, 4, 10
    assert default["run_max_s"] == "10.000"
    assert float(default["wait_p95_s"]) == pytest.approx(1.0, abs=0.2)
    scans = rows[("echo", "scans")]
    assert (scans["unfinished"], scans["success_rate"], scans["run_p50_s"]) == ("1", "", "")
    document = json.loads((settings.REPORTS_DIR / report.metadata_file).read_text())
    assert len(document["rows"]) == 2 and document["counts"]["jobs"] == 6


def test_the_task_execution_period_is_checked(db):
    with pytest.raises(ValidationFailed, match="since must be before until"):
        services.report_request(
            kind="task_execution", parameters={"since": "2023-01-02T00:00:00Z", "until": "2023-01-01T00:00:00Z"}
        )
    with pytest.raises(ValidationFailed, match="time zone"):
        services.report_request(kind="task_execution", parameters={"since": "2023-01-01T00:00:00"})
    with pytest.raises(ValidationFailed, match="366 days"):
        services.report_request(kind="task_execution", parameters={"since": "2020-01-01T00:00:00Z"})


def test_an_empty_task_execution_report_has_a_header(db, settings):
    report = services.report_request(kind="task_execution")
    services.task_report_generate(report_id=report.id)
    report.refresh_from_db()
    assert report.row_count == 0
    assert (settings.REPORTS_DIR / report.csv_file).read_text().startswith("actor,queue,jobs,")
