"""Effects recorded by the chaos actors, outside the engine: one Redis list per scenario.

Every event is stamped with the effects Redis's own clock (``TIME`` inside a Lua script), not the
worker's: a worker's clock may be skewed on purpose (scenario g), and the harness and this Redis
run on one host, so the harness's ``time.time()`` and these stamps are one clock. The worker's
own view of the time is kept beside it (``clock``, ``django_clock``) to check that a skew applied.

Workers find the list through ``CHAOS_EFFECTS_URL`` and ``CHAOS_EFFECTS_KEY``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass

import redis

# Stamps the event with Redis's clock, as microseconds, in one round trip.
_RECORD = """
local t = redis.call('TIME')
redis.call('RPUSH', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])) .. ' ' .. ARGV[1])
return 1
"""

_client_lock = threading.Lock()
_client: tuple[int, redis.Redis] | None = None


def _effects_client() -> redis.Redis:
    global _client
    with _client_lock:
        if _client is None or _client[0] != os.getpid():
            _client = (os.getpid(), redis.Redis.from_url(os.environ["CHAOS_EFFECTS_URL"], socket_timeout=5))
        return _client[1]


def record(kind: str, **fields) -> None:
    """Append one event (start, return, raise, suicide) for the running job; retried, never silent."""
    from django.utils import timezone

    from jobs.context import current_job

    job = current_job()
    event = {
        "kind": kind,
        "job": str(job.job_id),
        "attempt": int(job.attempt),
        "pid": os.getpid(),
        "tid": threading.get_ident(),
        "clock": time.time(),
        "django_clock": timezone.now().timestamp(),
        **fields,
    }
    payload = json.dumps(event)
    for pause in (0.1, 0.3, 1.0, None):
        try:
            _effects_client().eval(_RECORD, 1, os.environ["CHAOS_EFFECTS_KEY"], payload)
            return
        except redis.RedisError:
            if pause is None:
                raise
            time.sleep(pause)


@dataclass(frozen=True)
class Event:
    kind: str
    job: str
    attempt: int
    pid: int
    tid: int
    t: float  # effects Redis clock, seconds
    clock: float  # the worker's time.time() at the event
    django_clock: float  # the worker's django.utils.timezone.now() at the event

    @property
    def skew(self) -> float:
        return self.clock - self.t


class EffectLog:
    """The harness's reader of one scenario's events; ``refresh`` reads only what is new."""

    def __init__(self, client: redis.Redis, key: str):
        self.client = client
        self.key = key
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def refresh(self) -> list[Event]:
        with self._lock:
            raw = self.client.lrange(self.key, len(self.events), -1)
            for item in raw:
                stamp, _, body = item.decode().partition(" ")
                data = json.loads(body)
                self.events.append(
                    Event(
                        kind=data["kind"],
                        job=data["job"],
                        attempt=data["attempt"],
                        pid=data["pid"],
                        tid=data["tid"],
                        t=int(stamp) / 1e6,
                        clock=data["clock"],
                        django_clock=data["django_clock"],
                    )
                )
            return list(self.events)

    def starts(self, job_ids=None) -> list[Event]:
        wanted = None if job_ids is None else set(job_ids)
        return [e for e in self.refresh() if e.kind == "start" and (wanted is None or e.job in wanted)]

    def open_copies_by_pid(self) -> dict[int, set[str]]:
        """Jobs each process has started and not yet ended (its dead processes included)."""
        open_: dict[tuple[int, int, str, int], int] = {}
        for e in self.refresh():
            key = (e.pid, e.tid, e.job, e.attempt)
            if e.kind == "start":
                open_[key] = open_.get(key, 0) + 1
            elif e.kind in ("return", "raise") and open_.get(key):
                open_[key] -= 1
        by_pid: dict[int, set[str]] = {}
        for (pid, _tid, job, _attempt), count in open_.items():
            if count:
                by_pid.setdefault(pid, set()).add(job)
        return by_pid
