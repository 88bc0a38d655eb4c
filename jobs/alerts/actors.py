"""The alerts' actors: the evaluation the scheduler starts every minute, and one delivery per
notification (retried by the engine, so a slow or failing channel never holds an evaluation)."""

from jobs.alerts import delivery, services
from jobs.errors import PermanentError
from jobs.registry import INTERNAL, job_actor
from jobs.retry import Exponential, Fixed


@job_actor(
    actor_name="alerts.evaluate",
    queue_name="maintenance",
    retry=Fixed(max_retries=0),
    time_limit=60,
    soft_time_limit=50,
    visibility=INTERNAL,
)
def evaluate_alerts():
    """Evaluates every alert rule: opens, keeps and resolves alerts."""
    result = services.alerts_evaluate()
    if result["errors"]:
        # The other rules were evaluated; the job fails so that a broken rule shows (and, repeated,
        # opens the failure-rate alert of this very actor).
        raise PermanentError(f"Alert rules that could not be evaluated: {result['errors']}")
    return result


@job_actor(
    actor_name="alerts.deliver",
    queue_name="maintenance",
    retry=Exponential(max_retries=5, min_delay=10, max_delay=600),
    time_limit=90,
    soft_time_limit=60,
    visibility=INTERNAL,
)
def deliver_notification(notification_id: str):
    """Sends one alert notification (email or webhook), at most once."""
    return {"status": delivery.notification_deliver(notification_id=notification_id)}
