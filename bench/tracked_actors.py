"""The same no-op as bare_actors, declared through the job engine (tracking on)."""

import os

import dramatiq

from jobs.registry import job_actor
from jobs.retry import Fixed

COUNTER_KEY = os.environ.get("BENCH_COUNTER_KEY", "bench:unused")


@job_actor(actor_name="bench.noop", queue_name="default", retry=Fixed(max_retries=0))
def bench_noop():
    dramatiq.get_broker().client.incr(COUNTER_KEY)
