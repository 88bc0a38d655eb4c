"""Batched success writes: a worker process marks finished jobs succeeded many at a time.

One UPDATE per batch instead of one commit per job roughly halves the database work of the hot
path (shared/notes/performance.md). A job's row turns ``succeeded`` a few milliseconds after its
actor returned; if the process dies inside that window the reaper runs the job again, as for any
crash after the work was done (delivery is at-least-once).
"""

from __future__ import annotations

import logging
import queue
import threading

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from jobs import states

logger = logging.getLogger(__name__)

MAX_BATCH = 200
# After the first success arrives, wait this long for more before writing.
GATHER_SECONDS = 0.005
DB_RETRY_DELAYS = (0.2, 0.5, 1, 2, 4, 8)


class SuccessFinisher(threading.Thread):
    def __init__(self):
        super().__init__(name="jobs-finisher", daemon=True)
        self.items: queue.Queue = queue.Queue()
        self.stopping = threading.Event()

    def add(self, job_id, token: int, result) -> None:
        self.items.put((job_id, token, result, timezone.now()))

    def run(self) -> None:
        while not (self.stopping.is_set() and self.items.empty()):
            try:
                first = self.items.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            self.stopping.wait(GATHER_SECONDS)
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.items.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
        connection.close()

    def _write(self, batch) -> None:
        import time

        for delay in (*DB_RETRY_DELAYS, None):
            try:
                states.succeed_many(batch)
                return
            except DatabaseError as exc:
                close_old_connections()
                if delay is None:
                    # The reaper will find these jobs running without heartbeat and run them again.
                    logger.error("Could not record %d finished job(s): %s", len(batch), exc)
                    return
                time.sleep(delay)

    def stop(self, timeout: float = 30) -> None:
        self.stopping.set()
        self.join(timeout)
