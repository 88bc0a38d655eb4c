"""Locks for actors: one holder at a time across processes and hosts, on redis-py's ``Lock``.

    from jobs.locks import job_lock

    with job_lock(f"report:store-{store_id}", timeout=60, blocking_timeout=10):
        ...

- Released when the block exits, however it exits (an exception, a cancellation, a fencing).
- Held as long as the job runs: the worker process's maintenance thread (jobs.worker.maintenance)
  calls ``extend_held`` every half second, which resets the expiry of each lock held in this
  process. ``timeout`` only bounds how long a lock outlives a process that died holding it (or a
  job that holds the GIL in C code for longer than that: choose it above such a stretch).
- Not acquired within ``blocking_timeout`` seconds: ``LockNotAcquired``, and the job retries by
  its actor's policy.

Keys live in the broker's Redis under its namespace (``<namespace>:lock:<name>``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dramatiq
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from jobs.errors import LockNotAcquired

logger = logging.getLogger(__name__)

# Locks held in this process, by id: the maintenance thread extends them.
_held: dict[int, _Held] = {}
_held_lock = threading.Lock()


@dataclass(eq=False)
class _Held:
    name: str
    lock: Lock
    extended_at: float = field(default_factory=time.monotonic)


def lock_key(name: str) -> str:
    return f"{dramatiq.get_broker().namespace}:lock:{name}"


@contextmanager
def job_lock(name: str, *, timeout: float | None = 60.0, blocking_timeout: float = 10.0) -> Iterator[Lock]:
    """Hold the lock ``name`` for the block; ``LockNotAcquired`` after ``blocking_timeout`` seconds.

    ``timeout`` (seconds) is the lock's expiry in Redis, renewed while this process runs the job
    (None: no expiry, and a process that dies holding the lock leaves it held: avoid).
    """
    if not name or not isinstance(name, str):
        raise ValueError("A job lock needs a non-empty name.")
    # thread_local=False: the maintenance thread extends the lock with the token this thread took.
    lock = Lock(
        dramatiq.get_broker().client,
        lock_key(name),
        timeout=timeout,
        blocking_timeout=blocking_timeout,
        thread_local=False,
    )
    if not lock.acquire():
        raise LockNotAcquired(f"Lock {name!r} is held by another job; not acquired within {blocking_timeout:g} s.")
    held = _Held(name=name, lock=lock)
    with _held_lock:
        _held[id(held)] = held
    try:
        yield lock
    finally:
        with _held_lock:
            _held.pop(id(held), None)
        try:
            lock.release()
        except LockError:
            logger.warning("Lock %r had expired before its release: another job may have taken it.", name)
        except RedisError as exc:
            logger.warning("Lock %r not released (Redis: %s); it expires in %g s.", name, exc, timeout)


def extend_held() -> None:
    """Reset the expiry of every lock held in this process whose last renewal is a third of its
    timeout old. Called by the worker's maintenance thread; cheap when no lock is held."""
    if not _held:
        return
    now = time.monotonic()
    with _held_lock:
        due = [h for h in _held.values() if h.lock.timeout and now - h.extended_at >= h.lock.timeout / 3]
    for held in due:
        try:
            held.lock.reacquire()
            held.extended_at = now
        except LockError:
            logger.warning("Lock %r expired while its job ran: another job may hold it now.", held.name)
            with _held_lock:
                _held.pop(id(held), None)
        except RedisError as exc:
            logger.warning("Lock %r not extended (Redis: %s).", held.name, exc)


def held_locks() -> list[str]:
    """Names of the locks held in this process (for tests and diagnostics)."""
    with _held_lock:
        return [h.name for h in _held.values()]
