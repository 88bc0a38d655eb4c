"""The metrics writer's actor, fired every minute by the built-in "Metrics rollup" schedule."""

from jobs.metrics import services
from jobs.registry import INTERNAL, job_actor
from jobs.retry import Fixed


@job_actor(
    actor_name="jobs.metrics_rollup",
    queue_name="maintenance",
    retry=Fixed(max_retries=0),
    time_limit=120,
    soft_time_limit=100,
    visibility=INTERNAL,
)
def metrics_rollup():
    """Rolls finished jobs of closed minutes and hours up into metrics; deletes expired rollups."""
    return services.metrics_rollup()
