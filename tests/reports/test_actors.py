"""The actors are registered on the reports queue and only delegate to the services."""

from jobs import registry
from reports import actors, services
from reports.models import ReportStatus
from tests.reports.samples import STATUS


def test_the_actors_are_declared_with_their_limits():
    spec = registry.get_spec("reports.generate_store_report")
    assert (spec.queue_name, spec.retry.max_retries, spec.soft_time_limit, spec.time_limit) == ("reports", 1, 600, 900)
    assert registry.get_spec("reports.generate_task_report").queue_name == "reports"


def test_the_store_actor_runs_outside_a_worker(import_stores):
    import_stores(status=STATUS)
    report = services.report_request()
    result = actors.generate_store_report.fn(str(report.id))  # no current job: progress is skipped
    report.refresh_from_db()
    assert result["status"] == report.status == ReportStatus.COMPLETE


def test_the_task_actor_runs_outside_a_worker(db):
    report = services.report_request(kind="task_execution")
    assert actors.generate_task_report.fn(str(report.id))["status"] == ReportStatus.COMPLETE
