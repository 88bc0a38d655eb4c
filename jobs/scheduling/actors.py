"""The scheduler's own actor: a periodic system health check whose result is kept on its job."""

from jobs import selectors
from jobs.registry import INTERNAL, job_actor
from jobs.retry import Fixed


@job_actor(
    actor_name="jobs.health_check",
    queue_name="maintenance",
    retry=Fixed(max_retries=0),
    time_limit=60,
    soft_time_limit=50,
    visibility=INTERNAL,
)
def health_check():
    """Checks the database, Redis, workers and scheduler; the report is the job's result."""
    return selectors.system_health()
