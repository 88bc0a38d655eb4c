"""The monitoring app's actors, on the ``scans`` queue: thin, they take ids and call a service.

All internal: scans and extractions are asked for through the monitoring API and pages (which keep
one live scan per scope), the continuous scan runs on its built-in schedule.
"""

from jobs.context import current_job
from jobs.registry import INTERNAL, job_actor
from jobs.retry import Exponential, Fixed
from monitoring import scans, services
from monitoring.models import ScanMode


@job_actor(
    actor_name="monitoring.continuous_scan",
    queue_name="scans",
    retry=Fixed(max_retries=2, min_delay=10),
    soft_time_limit=240,
    time_limit=290,
    visibility=INTERNAL,
)
def continuous_monitoring_task():
    """Incremental scan: records changed since the last watermark, every record of a changed policy."""
    return scans.scan_execute(mode=ScanMode.INCREMENTAL, job=current_job())


@job_actor(
    actor_name="monitoring.scan_violations",
    queue_name="scans",
    retry=Exponential(max_retries=3, min_delay=5, max_delay=120),
    soft_time_limit=1800,
    time_limit=1900,
    visibility=INTERNAL,
)
def scan_violations_task(policy_id: int | None = None):
    """Manual full scan of every enabled policy, or of one."""
    return scans.scan_execute(mode=ScanMode.FULL, policy_id=policy_id, job=current_job())


@job_actor(
    actor_name="monitoring.extract_rules",
    queue_name="scans",
    retry=Fixed(max_retries=1, min_delay=5),
    soft_time_limit=120,
    time_limit=150,
    visibility=INTERNAL,
)
def extract_rules_task(policy_id: int):
    """Turns a policy's text into disabled rules; lists the sentences it could not parse."""
    return services.rules_extract(policy_id=policy_id)
