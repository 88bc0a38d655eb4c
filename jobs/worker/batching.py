"""Group commit: the worker threads of a process hand their writes to writer threads, which write
all that arrived meanwhile in one statement; a caller waits for its own outcome, or not at all.

Under load a process commits once for many jobs; when idle a write costs what it would alone.
With more than one writer thread (each its own connection), a batch forms while the previous one
is on its way to the database, so waiting threads do not queue behind a round trip.
Writer threads never die: any error is handed to the callers of its batch, who decide.

The hand-over is C-level: a ``queue.SimpleQueue`` and a lock per request that the writer releases
when its outcome is in. ``queue.Queue`` and ``threading.Event`` are Python code around a
``Condition``, and at a thousand jobs a second their waits and notifies were a tenth of a worker
process's Python time.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field

from jobs.db import drop_connection

logger = logging.getLogger(__name__)


def _held_lock():
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Request:
    item: object
    # Released by the writer once the outcome is in; None when nobody waits (submit_nowait).
    done: threading.Lock | None = field(default_factory=_held_lock)
    outcome: object = None
    error: BaseException | None = None


class BatchWriter:
    """``write(items) -> list of outcomes`` runs in one of ``writers`` threads for batches of up to
    ``max_batch`` items."""

    def __init__(self, *, name: str, write, max_batch: int, writers: int = 1):
        self.name = name
        self.write = write
        self.max_batch = max_batch
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True) for n in range(max(writers, 1))
        ]

    def start(self) -> BatchWriter:
        for thread in self.threads:
            thread.start()
        return self

    def is_alive(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def submit(self, item, *, timeout: float | None = None):
        """Write ``item`` with the next batch and return its outcome; raises the batch's error."""
        request = _Request(item)
        self.requests.put(request)
        while not request.done.acquire(timeout=1.0 if timeout is None else timeout):
            if timeout is not None or not self.is_alive():
                raise RuntimeError(f"{self.name} is not running")
        if request.error is not None:
            raise request.error
        return request.outcome

    def submit_nowait(self, item) -> None:
        """Hand ``item`` to the next batch without waiting: ``write`` deals with its outcome."""
        self.requests.put(_Request(item, done=None))

    def _run(self) -> None:
        while not (self.stopping.is_set() and self.requests.empty()):
            try:
                batch = [self.requests.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.requests.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
        drop_connection()

    def _write(self, batch: list[_Request]) -> None:
        try:
            outcomes = self.write([r.item for r in batch])
            for request, outcome in zip(batch, outcomes, strict=True):
                request.outcome = outcome
        except BaseException as exc:  # handed to the callers; this thread goes on
            logger.warning("%s: a batch of %d failed: %s", self.name, len(batch), exc)
            drop_connection()
            for request in batch:
                request.error = exc
        finally:
            for request in batch:
                if request.done is not None:
                    request.done.release()

    def stop(self, timeout: float = 30) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
