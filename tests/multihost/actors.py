"""The bed's test actor, and the effects it records where no fault reaches them.

The engine's own records (claims, attempts, results) are what the scenarios test, so the effects
are counted apart from them: each run of ``mh.effect`` appends a ``start`` and, if it gets that
far, a ``return`` event to a list in the *effects* Redis, a server of its own reached over a Unix
socket (``MULTIHOST_EFFECTS_SOCKET``). A host cut off from the network still reaches it, so what a
stale copy does during a partition is recorded too. Event times are that server's clock, the same
for every host whatever offset a host's own clock was given.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import redis

from jobs.context import current_job
from jobs.registry import job_actor
from jobs.retry import Fixed

EVENTS_KEY = "effects"
# One round trip: the event and the effects server's time, in one list entry "<seconds>|<json>".
_RECORD = """
local t = redis.call('TIME')
redis.call('RPUSH', KEYS[1], t[1] .. '.' .. string.format('%06d', tonumber(t[2])) .. '|' .. ARGV[1])
return 1
"""
_client = None


def effects_client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis(unix_socket_path=os.environ["MULTIHOST_EFFECTS_SOCKET"], socket_timeout=30)
    return _client


def record(kind: str, **fields) -> None:
    event = {"kind": kind, "host": os.environ.get("MULTIHOST_HOST", "?"), "pid": os.getpid(), **fields}
    effects_client().eval(_RECORD, 1, EVENTS_KEY, json.dumps(event, separators=(",", ":")))


@job_actor(actor_name="mh.effect", retry=Fixed(max_retries=3, min_delay=0.2), soft_time_limit=100, time_limit=120)
def effect(n: int = 0, seconds: float = 0.0, step: float = 0.05, fail_attempts: int = 0):
    """Records its start, works ``seconds`` in short Python steps (so a fenced copy can be stopped),
    records its return. Its first ``fail_attempts`` attempts raise instead (a retry follows)."""
    job = current_job()
    record("start", job=job.job_id, attempt=job.attempt, token=job.token)
    if job.attempt <= fail_attempts:
        raise RuntimeError(f"deliberate failure of attempt {job.attempt}")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(step, left))
    record("return", job=job.job_id, attempt=job.attempt, token=job.token)
    return {"n": n, "host": os.environ.get("MULTIHOST_HOST", "?"), "attempt": job.attempt}


@job_actor(actor_name="mh.noop", retry=Fixed(max_retries=0))
def noop(n: int = 0):
    """Does nothing: what the engine costs per job (bench/multihost_capacity.py)."""
    return n


@dataclass(frozen=True)
class Event:
    kind: str
    job: str
    attempt: int
    host: str
    pid: int
    at: float  # the effects server's clock, seconds


def read_events(client: redis.Redis) -> list[Event]:
    events = []
    for raw in client.lrange(EVENTS_KEY, 0, -1):
        at, _, body = raw.decode().partition("|")
        data = json.loads(body)
        events.append(
            Event(
                kind=data["kind"],
                job=data["job"],
                attempt=int(data["attempt"]),
                host=data["host"],
                pid=int(data["pid"]),
                at=float(at),
            )
        )
    return events
