"""The reports app's actors: thin, they take a report id and call a service. All internal: a report
is requested through the reports API or page, which writes the report row first.

The services are imported when an actor runs: they pull in pandas and NumPy, more than half of a
worker process's start-up, which a worker that never runs a report should not pay (a restarted
process takes jobs again that much sooner)."""

from jobs.context import current_job
from jobs.locks import job_lock
from jobs.registry import INTERNAL, job_actor
from jobs.retry import Fixed


@job_actor(
    actor_name="reports.generate_store_report",
    queue_name="reports",
    retry=Fixed(max_retries=1, min_delay=30),
    soft_time_limit=600,
    time_limit=900,
    visibility=INTERNAL,  # reports are requested through the reports API, which writes the report row
)
def generate_store_report(report_id: str):
    """Computes a store uptime report from the database and writes its CSV."""
    from reports import services

    # Every store report reads all the store data at once: two at a time would double the memory
    # of the heaviest job for the same answer. The second waits (or retries) until the first ends.
    with job_lock("reports:store-uptime", timeout=120, blocking_timeout=300):
        return services.store_report_generate(report_id=report_id, job=current_job())


@job_actor(
    actor_name="reports.generate_task_report",
    queue_name="reports",
    retry=Fixed(max_retries=1, min_delay=30),
    soft_time_limit=600,
    time_limit=900,
    visibility=INTERNAL,  # reports are requested through the reports API, which writes the report row
)
def generate_task_report(report_id: str):
    """Computes a task execution report (per actor and queue) for a period."""
    from reports import services

    return services.task_report_generate(report_id=report_id, job=current_job())


@job_actor(
    actor_name="reports.request_daily_task_report",
    queue_name="reports",
    retry=Fixed(max_retries=2, min_delay=60),
    soft_time_limit=60,
    time_limit=120,
    visibility=INTERNAL,
)
def request_daily_task_report():
    """Requests a task execution report over the last 24 hours (the daily schedule's entry point)."""
    from reports import services

    report = services.report_request(kind="task_execution")
    return {"report_id": str(report.id)}
