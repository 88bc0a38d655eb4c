"""The engine's two questions to the controls, each one function, each one cached lookup when no
control is set:

- ``publish_plan()``: which queues the publisher must leave alone (paused) or fill only up to
  their window of ready messages in Redis (priority lanes: the rest waits in the database, where
  the dispatcher takes the highest priority first);
- ``admit(...)``: may a worker start this message's job now? A paused queue, a full concurrency
  limit or an empty rate budget holds the job back: it goes back to ``pending`` with a new token,
  unpublished, available after a short delay, without counting an attempt (``hold``).

Controls are read from the database through a per-process snapshot refreshed at least every
``JOBS_CONTROLS_REFRESH`` seconds (1 s), so a change takes effect on every host within about that.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from jobs import broker, states
from jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    paused: bool = False
    max_concurrency: int | None = None
    rate_limit: int | None = None
    rate_period: float = 1.0
    ready_window: int | None = None

    @property
    def active(self) -> bool:
        return self.paused or bool(self.max_concurrency or self.rate_limit or self.ready_window)


@dataclass(frozen=True)
class Snapshot:
    queues: dict[str, Limits] = field(default_factory=dict)
    actors: dict[str, Limits] = field(default_factory=dict)

    @property
    def paused(self) -> frozenset[str]:
        return frozenset(name for name, limits in self.queues.items() if limits.paused)

    @property
    def windows(self) -> dict[str, int]:
        """Queue → at most this many ready messages in Redis: its ready window, else its
        concurrency limit (so a limited queue does not flood its workers with messages to hold back)."""
        windows = {}
        for name, limits in self.queues.items():
            window = limits.ready_window or limits.max_concurrency
            if window and not limits.paused:
                windows[name] = window
        return windows


class ControlCache:
    """The process's snapshot of the controls, reloaded when older than ``ttl`` seconds. A reload
    that fails keeps the previous snapshot (a database outage stops the claims anyway)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._loaded_at = 0.0

    def get(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._loaded_at < settings.JOBS["CONTROLS_REFRESH"]:
            return snapshot
        with self._lock:
            if self._snapshot is not None and time.monotonic() - self._loaded_at < settings.JOBS["CONTROLS_REFRESH"]:
                return self._snapshot
            try:
                self._snapshot = load_snapshot()
            except Exception:
                if self._snapshot is None:
                    raise
                logger.warning("Reloading the queue controls failed; keeping the previous ones.", exc_info=True)
            self._loaded_at = time.monotonic()
            return self._snapshot

    def clear(self) -> None:
        self._loaded_at = 0.0


cache = ControlCache()


def load_snapshot() -> Snapshot:
    from jobs.controls.models import ActorControl, QueueControl

    queues = {
        row.queue_name: Limits(
            paused=row.paused,
            max_concurrency=row.max_concurrency,
            rate_limit=row.rate_limit,
            rate_period=row.rate_period,
            ready_window=row.ready_window,
        )
        for row in QueueControl.objects.all()
    }
    actors = {
        row.actor_name: Limits(
            max_concurrency=row.max_concurrency, rate_limit=row.rate_limit, rate_period=row.rate_period
        )
        for row in ActorControl.objects.all()
    }
    return Snapshot(
        queues={k: v for k, v in queues.items() if v.active}, actors={k: v for k, v in actors.items() if v.active}
    )


# --- Publishing -----------------------------------------------------------------------------------


@dataclass
class PublishPlan:
    held: frozenset[str]  # queues the plain publishing pass leaves alone: paused and windowed ones
    rooms: dict[str, int]  # windowed queue → how many more of its messages may go to Redis now
    windows: dict[str, int] = field(default_factory=dict)  # windowed queue → its window

    def take(self, queue_name: str, count: int) -> None:
        self.rooms[queue_name] = max(self.rooms.get(queue_name, 0) - count, 0)


def publish_plan() -> PublishPlan | None:
    """How the publisher must treat the queues now; None when no queue is paused or windowed."""
    snapshot = cache.get()
    paused, windows = snapshot.paused, snapshot.windows
    if not paused and not windows:
        return None
    return PublishPlan(held=paused | frozenset(windows), rooms=_rooms(windows) if windows else {}, windows=windows)


def _rooms(windows: dict[str, int]) -> dict[str, int]:
    """Windowed queue → how many more of its messages may wait in Redis now (one round trip)."""
    try:
        depths = broker.queue_depths(list(windows))
    except Exception:  # Redis away: publishing fails anyway
        depths = dict.fromkeys(windows, 0)
    return {name: max(window - depths[name], 0) for name, window in windows.items()}


def room_under_lock(plan: PublishPlan, queue_name: str) -> int:
    """The room left in a windowed queue, read again under a per-queue lock that the caller's
    transaction holds until its messages are sent and stamped. Without it, two publishers (a
    submitter's on-commit hook and a host's dispatcher) that read the same free slot both fill it,
    and a window of one lets two messages ahead of a later high-priority job."""
    _lock([f"window:{queue_name}"])  # SQLite: the IMMEDIATE transaction already holds its one write lock
    plan.rooms[queue_name] = _rooms({queue_name: plan.windows[queue_name]})[queue_name]
    return plan.rooms[queue_name]


# --- Admission ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """``decided`` False: no control applies, claim as usual. True: the controls claimed the job
    themselves (``claim``, None if the message was stale) or held it back (``held`` says why)."""

    decided: bool
    claim: states.Claim | None = None
    held: str = ""


ADMIT = Admission(decided=False)


def admit(*, job_id: str, token: int, queue_name: str, actor_name: str, worker_id: str) -> Admission:
    """May the worker start this message's job now? One cached lookup when no control applies."""
    snapshot = cache.get()
    queue, actor = snapshot.queues.get(queue_name), snapshot.actors.get(actor_name)
    if queue is None and actor is None:
        return ADMIT
    if queue is not None and queue.paused:
        return _hold(job_id, token, delay=0.0, reason=f"queue {queue_name} is paused")
    limited = [(kind, name, lim) for kind, name, lim in (("queue", queue_name, queue), ("actor", actor_name, actor))]
    limited = [(kind, name, lim) for kind, name, lim in limited if lim is not None]
    if any(lim.max_concurrency for _, _, lim in limited):
        return _admit_counted(job_id, token, limited, worker_id=worker_id)
    wait = _take_rate(job_id, token, limited)
    if wait:
        return _hold(job_id, token, delay=wait, reason="rate limit")
    return ADMIT


def _admit_counted(job_id, token, limited, *, worker_id) -> Admission:
    """Count the running jobs and claim in one transaction, serialised per queue/actor (an advisory
    lock on PostgreSQL), so that no two hosts both see the last free slot. A running row is the
    lease: it ends with the attempt, and the engine's recovery releases those of dead workers."""
    with transaction.atomic():
        _lock([f"{kind}:{name}" for kind, name, lim in limited if lim.max_concurrency])
        for kind, name, lim in limited:
            if not lim.max_concurrency:
                continue
            field_name = "queue_name" if kind == "queue" else "actor_name"
            running = Job.objects.filter(status=JobStatus.RUNNING, **{field_name: name}).count()
            if running >= lim.max_concurrency:
                return _hold(job_id, token, delay=_concurrency_delay(), reason=f"{kind} {name} runs {running}")
        wait = _take_rate(job_id, token, limited)
        if wait:
            return _hold(job_id, token, delay=wait, reason="rate limit")
        claims = states.claim_many([(job_id, token)], worker_id=worker_id)
    return Admission(decided=True, claim=claims.get(str(job_id)))


def _lock(keys) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite runs one writer at a time (and one host)
    with connection.cursor() as cursor:
        for key in sorted(keys):  # one order everywhere: no deadlock between two limits
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"jobs.controls:{key}"])


def _concurrency_delay() -> float:
    base = settings.JOBS["CONTROLS_HOLD_DELAY"]
    return base * (0.5 + random.random())


def _hold(job_id, token, *, delay: float, reason: str) -> Admission:
    from jobs.controls.services import job_hold

    job_hold(job_id=job_id, token=token, delay=delay, reason=reason)
    logger.debug("Job %s held back: %s (again in %.2f s).", job_id, reason, delay)
    return Admission(decided=True, held=reason)


# A sliding log per key (a sorted set of start times): at most ``limit`` starts in any window of
# ``period`` ms, checked and taken atomically for all keys at once. Time is Redis's own clock, the
# same for every host. KEYS: the logs; ARGV: limit and period (ms) per key, then the member.
# Returns 0 (taken) or the ms to wait until the oldest start leaves its window.
_RATE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local wait = 0
for i = 1, n do
  local limit, period = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + period - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, ARGV[2 * n + 1] .. ':' .. now)
  redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
end
return 0
"""
_scripts: dict = {}


def rate_key(kind: str, name: str) -> str:
    return f"{broker.broker().namespace}:controls:rate:{kind}:{name}"


def _take_rate(job_id, token, limited) -> float:
    """Take a start from every rate limit of ``limited``; 0 when taken, else seconds to wait."""
    rated = [(kind, name, lim) for kind, name, lim in limited if lim.rate_limit]
    if not rated:
        return 0.0
    client = broker.broker().client
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_RATE_SCRIPT)
    args = []
    for _, _, lim in rated:
        args += [lim.rate_limit, max(int(lim.rate_period * 1000), 1)]
    try:
        wait_ms = int(script(keys=[rate_key(kind, name) for kind, name, _ in rated], args=[*args, f"{job_id}.{token}"]))
    except Exception as exc:  # Redis away: wait rather than run past the limit
        logger.warning("Rate limiter unreachable; holding job %s back: %s", job_id, exc)
        return 1.0
    if wait_ms <= 0:
        return 0.0
    # Spread the held jobs over the next slot, so they do not all come back at the same instant.
    slot = min(lim.rate_period / lim.rate_limit for _, _, lim in rated)
    return wait_ms / 1000 + random.random() * slot
