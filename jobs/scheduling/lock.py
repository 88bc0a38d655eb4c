"""The leader lease: of several scheduler processes, the one holding the lease is active.

Why Redis and not a PostgreSQL advisory lock: an advisory lock lives as long as one database
session, so the scheduler would need a connection that is never recycled (``CONN_MAX_AGE``,
``close_old_connections`` and a transaction-mode pgbouncer all drop it, silently releasing the
lock), and SQLite, our default database, has none. A Redis key with an expiry works with either
database, survives reconnects, and frees itself when its holder dies. It is not a fencing token:
a holder paused past its lease may overlap with the next one for an instant, which is harmless
because ``ScheduleRun``'s unique (schedule, fire_time) refuses a second job for a fire time.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger(__name__)

# Compare-and-set: a process only renews or releases a lease that still carries its own token.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

# Stop acting as leader this long before the lease could have expired in Redis.
SAFETY_MARGIN = 1.0


class LeaderLock:
    """A lease in Redis: ``SET key token NX PX ttl``, renewed and released by compare-and-set."""

    def __init__(self, *, client, key: str, token: str, ttl: float):
        self.client = client
        self.key = key
        self.token = token
        self.ttl = ttl
        self._valid_until = 0.0  # monotonic time up to which we may act as leader
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    def acquire(self) -> bool:
        """Take the lease if it is free (or already ours); True when we hold it."""
        started = time.monotonic()
        if self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self._valid_until = started + self.ttl
            return True
        return self.renew(started=started)

    def renew(self, *, started: float | None = None) -> bool:
        """Extend our lease; False (and no longer held) when it expired or someone else has it."""
        started = time.monotonic() if started is None else started
        if self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            self._valid_until = started + self.ttl
            return True
        self._valid_until = 0.0
        return False

    def release(self) -> None:
        self._valid_until = 0.0
        try:
            self._release(keys=[self.key], args=[self.token])
        except Exception as exc:  # it expires by itself
            logger.warning("Releasing the scheduler lease failed: %s", exc)

    def held(self) -> bool:
        """True while our last successful acquire or renew guarantees nobody else holds the lease."""
        return time.monotonic() < self._valid_until - SAFETY_MARGIN

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
