"""Actors for the integration tests; worker processes load them through JOBS_EXTRA_ACTOR_MODULES."""

import os
import signal
import time

import dramatiq

from jobs.context import current_job
from jobs.registry import job_actor
from jobs.retry import Exponential, Fixed


def executions_key() -> str:
    return f"{dramatiq.get_broker().namespace}:test-executions"


def _count_execution() -> None:
    job = current_job()
    dramatiq.get_broker().client.hincrby(executions_key(), job.job_id, 1)


@job_actor(actor_name="t.record", retry=Fixed(max_retries=3, min_delay=0.5))
def record(n=0):
    _count_execution()
    return n


@job_actor(actor_name="t.always_fail", retry=Exponential(max_retries=3, min_delay=0.5, jitter=False))
def always_fail():
    _count_execution()
    raise ValueError(f"deliberate failure {current_job().attempt}")


@job_actor(actor_name="t.permanent_fail", retry=Fixed(max_retries=5))
def permanent_fail():
    from jobs.errors import PermanentError

    raise PermanentError("cannot be fixed by retrying")


@job_actor(actor_name="t.long_cooperative", retry=Fixed(max_retries=0))
def long_cooperative(seconds=60, step=0.2):
    job = current_job()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.progress(50, "working")
        time.sleep(step)
    return "finished"


@job_actor(actor_name="t.slow", retry=Fixed(max_retries=3, min_delay=0.2))
def slow(seconds=3.0):
    """Sleeps, then counts its completion: a worker killed midway must not count it."""
    time.sleep(seconds)
    _count_execution()
    return "done"


@job_actor(actor_name="t.kill_worker", retry=Fixed(max_retries=2, min_delay=0.2))
def kill_worker():
    _count_execution()
    os.kill(os.getpid(), signal.SIGKILL)


@job_actor(actor_name="t.soft_limited", retry=Fixed(max_retries=0), soft_time_limit=1, time_limit=4)
def soft_limited():
    """Cleans up when the soft limit strikes, then stops."""
    from jobs.errors import SoftTimeLimitExceeded

    try:
        for _ in range(100):
            time.sleep(0.1)
    except SoftTimeLimitExceeded:
        dramatiq.get_broker().client.hset(executions_key(), f"cleanup:{current_job().job_id}", 1)
        raise


@job_actor(actor_name="t.hard_limited", retry=Fixed(max_retries=0), soft_time_limit=60, time_limit=1.5)
def hard_limited():
    for _ in range(100):
        time.sleep(0.1)


@job_actor(actor_name="t.abortable", retry=Fixed(max_retries=0), abortable=True)
def abortable(seconds=60):
    """Never checks for cancellation itself: only an abort stops it."""
    for _ in range(int(seconds * 10)):
        time.sleep(0.1)


@job_actor(actor_name="t.stuck_in_c", retry=Fixed(max_retries=0), soft_time_limit=60, time_limit=1)
def stuck_in_c(seconds=60):
    """A C call that no exception can interrupt: only a new process stops it."""
    _count_execution()
    time.sleep(seconds)
    return "woke up"


def lock_intervals_key() -> str:
    return f"{dramatiq.get_broker().namespace}:test-lock-intervals"


@job_actor(actor_name="t.locked", retry=Fixed(max_retries=5, min_delay=0.2))
def locked(seconds=1.0, timeout=1.0):
    """Holds a job lock for longer than its timeout, recording when it held it (start, end, pid)."""
    from jobs.locks import job_lock

    with job_lock("test:overlap", timeout=timeout, blocking_timeout=60):
        start = time.time()
        time.sleep(seconds)
        end = time.time()
        dramatiq.get_broker().client.rpush(lock_intervals_key(), f"{start}:{end}:{os.getpid()}")
    return "done"


@job_actor(actor_name="t.typed", retry=Fixed(max_retries=0))
def typed(count: int, ratio: float, label: str = "total", loud: bool = False):
    """Multiplies a count by a ratio: a job with typed parameters for the submission form."""
    text = f"{label}: {count * ratio}"
    return {"text": text.upper() if loud else text, "count": count, "ratio": ratio}


# --- Queue controls (tests/integration/test_controls.py) -------------------------------------------

_PROBE_START = """
local n = redis.call('incr', KEYS[1])
if n > tonumber(redis.call('get', KEYS[2]) or '0') then redis.call('set', KEYS[2], n) end
redis.call('rpush', KEYS[3], ARGV[1])
return n
"""


def probe_keys(tag: str) -> tuple[str, str, str]:
    """(running now, most running at once, start log "job_id time") of the probes tagged ``tag``."""
    prefix = f"{dramatiq.get_broker().namespace}:probe:{tag}"
    return f"{prefix}:running", f"{prefix}:max", f"{prefix}:starts"


@job_actor(actor_name="t.probe", retry=Fixed(max_retries=0))
def probe(tag: str = "", seconds: float = 0.0):
    """Counts itself running (and the most running at once) and logs its start, in Redis."""
    client = dramatiq.get_broker().client
    running, _, _ = keys = probe_keys(tag)
    client.eval(_PROBE_START, 3, *keys, f"{current_job().job_id} {time.time():.6f}")
    try:
        time.sleep(seconds)
    finally:
        client.decr(running)
    return tag


@job_actor(actor_name="t.burn_cpu", retry=Fixed(max_retries=0))
def burn_cpu(rounds=3_000_000, fail=False):
    """Pure-Python arithmetic: CPU time of its own thread (jobs.observability.usage)."""
    total = 0
    for n in range(rounds):
        total += n * n % 7
    if fail:
        raise ValueError("burned, then failed")
    return total
