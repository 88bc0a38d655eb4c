"""The engine's own actors: maintenance (internal), plus small ones for smoke tests and demos."""

import time

from jobs import recovery, services
from jobs.context import current_job
from jobs.errors import PermanentError
from jobs.registry import INTERNAL, job_actor
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


@job_actor(actor_name="demo.always_fails", queue_name="default", retry=Fixed(max_retries=2, min_delay=2))
def demo_always_fails(reason: str = "this demo job fails on purpose"):
    """Fails on every attempt: watch it retry twice, then land in the dead letters."""
    job = current_job()
    raise RuntimeError(f"{reason} (attempt {job.attempt if job else 1})")


@job_actor(actor_name="demo.flaky", queue_name="default", retry=Fixed(max_retries=3, min_delay=2))
def demo_flaky(failures: int = 2):
    """Fails its first ``failures`` attempts (at most 3), then succeeds: a retry that works."""
    job = current_job()
    attempt = job.attempt if job else 1
    if attempt <= min(max(int(failures), 0), 3):
        raise RuntimeError(f"flaky on purpose: attempt {attempt} of the first {failures} fails")
    return {"succeeded_on_attempt": attempt}


@job_actor(
    actor_name="jobs.prune",
    queue_name="maintenance",
    retry=Exponential(max_retries=2, min_delay=60),
    visibility=INTERNAL,
)
def prune_jobs(older_than_days: int | None = None):
    """Deletes finished jobs past their state's retention and clears expired results."""
    if older_than_days is not None and (isinstance(older_than_days, bool) or older_than_days < 1):
        # Internal, but the schedule's arguments are editable in the admin: never delete everything.
        raise PermanentError(f"older_than_days must be 1 or more, not {older_than_days!r}.")
    return {"deleted": services.jobs_prune(older_than_days=older_than_days)}


@job_actor(
    actor_name="jobs.recover",
    queue_name="maintenance",
    retry=Fixed(max_retries=0),
    time_limit=120,
    soft_time_limit=100,
    visibility=INTERNAL,
)
def recover_jobs():
    """Relays unpublished jobs and reaps jobs of dead workers."""
    return recovery.recover()


@job_actor(
    actor_name="jobs.bulk",
    queue_name="maintenance",
    retry=Fixed(max_retries=0),
    time_limit=4 * 3600,
    soft_time_limit=4 * 3600 - 60,
    visibility=INTERNAL,
)
def bulk_apply(action: str, filters: dict):
    """Applies an operator's retry, cancel, delete or run-now to every job a filter matches."""
    from jobs.bulk.services import jobs_bulk_apply

    job = current_job()

    def progress(done: int, total: int, changed: int) -> None:
        if job:
            job.progress(min(99, 100 * done // max(total, 1)), f"{done} of {total} processed, {changed} changed")

    return jobs_bulk_apply(action=action, filters=filters, bulk_job_id=job.job_id if job else None, on_batch=progress)
