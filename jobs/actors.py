"""The engine's own actors: maintenance, plus small ones for smoke tests and demos."""

import time

from jobs import recovery, services
from jobs.context import current_job
from jobs.registry import job_actor
from jobs.retry import Exponential, Fixed


@job_actor(queue_name="default", retry=Fixed(max_retries=0))
def noop():
    """Does nothing; measures the engine's own overhead."""


@job_actor(queue_name="default", retry=Exponential(max_retries=3, min_delay=1))
def echo(*args, **kwargs):
    """Returns its arguments: a smoke test for the whole path."""
    return {"args": list(args), "kwargs": kwargs}


@job_actor(queue_name="default", retry=Fixed(max_retries=2, min_delay=1), abortable=True)
def countdown(seconds: int = 10):
    """Counts down, reporting progress every second; cancellable."""
    job = current_job()
    seconds = max(int(seconds), 1)
    for done in range(seconds):
        if job:
            job.progress(100 * done / seconds, f"{seconds - done} s left")
        time.sleep(1)
    return {"slept": seconds}


@job_actor(actor_name="jobs.prune", queue_name="maintenance", retry=Exponential(max_retries=2, min_delay=60))
def prune_jobs(older_than_days: int | None = None):
    """Deletes finished jobs past the retention window."""
    return {"deleted": services.jobs_prune(older_than_days=older_than_days)}


@job_actor(
    actor_name="jobs.recover", queue_name="maintenance", retry=Fixed(max_retries=0), time_limit=120, soft_time_limit=100
)
def recover_jobs():
    """Relays unpublished jobs and reaps jobs of dead workers."""
    return recovery.recover()
