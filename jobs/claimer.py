"""Batched claims: a worker process claims the jobs its threads are about to run in one UPDATE.

A thread hands its claim over and waits; while one statement runs, the next claims queue up and
go together, so under load a process commits once for many jobs, and when idle a claim costs
what it would alone. Duplicate or stale messages still find no row to claim and are dropped.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from django.db import DatabaseError, close_old_connections, connection

from jobs import states

MAX_BATCH = 100


@dataclass(eq=False)
class _Request:
    job_id: str
    token: int
    message_id: str
    done: threading.Event = field(default_factory=threading.Event)
    claim: states.Claim | None = None
    error: BaseException | None = None


class Claimer(threading.Thread):
    def __init__(self, *, worker_id: str):
        super().__init__(name="jobs-claimer", daemon=True)
        self.worker_id = worker_id
        self.requests: queue.Queue = queue.Queue()
        self.stopping = threading.Event()

    def claim(self, job_id: str, *, token: int, message_id: str) -> states.Claim | None:
        """Claim one job through the batch; raises the database's error if the batch failed."""
        request = _Request(str(job_id), token, message_id)
        self.requests.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.claim

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                batch = [self.requests.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.requests.get_nowait())
                except queue.Empty:
                    break
            self._claim(batch)
        connection.close()

    def _claim(self, batch: list[_Request]) -> None:
        try:
            claims = states.claim_many([(r.job_id, r.token, r.message_id) for r in batch], worker_id=self.worker_id)
            for request in batch:
                request.claim = claims.get(request.job_id)
        except DatabaseError as exc:
            close_old_connections()  # the callers retry; a broken connection is replaced
            for request in batch:
                request.error = exc
        finally:
            for request in batch:
                request.done.set()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
