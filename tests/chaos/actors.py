"""Actors of the fault suite; workers load them through JOBS_EXTRA_ACTOR_MODULES.

Each records its start and its end in the effects Redis (tests/chaos/effects.py) so the harness
counts copies and completed effects itself, whatever the engine's rows say. A ``return`` event is
the job's completed effect: it is written just before the actor returns.
"""

import ctypes
import os
import signal
import time

from jobs.context import current_job
from jobs.registry import job_actor
from jobs.retry import Fixed
from tests.chaos.effects import record

# Lost attempts may count against a job's budget: a generous one, so that a job that does not
# succeed under the storm shows the engine's behaviour, not a budget spent by chance.
GENEROUS = Fixed(max_retries=20, min_delay=0.5)


class DeliberateFailure(Exception):
    """Raised by ``chaos.fail_first`` on its first attempt."""


def recorded(body):
    """Runs ``body`` between a start event and a return event (or a raise event if it raises)."""
    record("start")
    try:
        result = body()
    except BaseException:
        record("raise")
        raise
    record("return")
    return result


@job_actor(actor_name="chaos.work", retry=GENEROUS, soft_time_limit=600, time_limit=660)
def work(seconds: float):
    """Sleeps (releasing the GIL), then records its completed effect."""

    def body():
        time.sleep(seconds)
        return seconds

    return recorded(body)


@job_actor(actor_name="chaos.hold_gil", retry=GENEROUS, soft_time_limit=600, time_limit=660)
def hold_gil(seconds: int):
    """Keeps the GIL for ``seconds``: libc's sleep called through PyDLL, which does not release it."""

    def body():
        ctypes.PyDLL(None).sleep(int(seconds))
        return seconds

    return recorded(body)


@job_actor(actor_name="chaos.fail_first", retry=Fixed(max_retries=3, min_delay=4), soft_time_limit=600, time_limit=660)
def fail_first(seconds: float = 0.2):
    """Fails its first attempt (the retry then waits 4 s in the broker's delay queue), then succeeds."""

    def body():
        if current_job().attempt == 1:
            raise DeliberateFailure("first attempt fails on purpose")
        time.sleep(seconds)
        return seconds

    return recorded(body)


@job_actor(actor_name="chaos.poison", retry=Fixed(max_retries=2, min_delay=0.2), soft_time_limit=600, time_limit=660)
def poison():
    """SIGKILLs its own worker process on every attempt."""
    record("start")
    record("suicide")
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(5)  # never reached: the signal is delivered at once
