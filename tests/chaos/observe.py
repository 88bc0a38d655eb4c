"""The harness's view of the job rows: polled with psycopg2, never through the engine's code.

The poller keeps every change of (status, dispatch_token, attempts, crash_suspect, worker_id) with the
time its answer came back: the snapshot was taken before that, so a transition is known to within one
poll interval and a latency measured to it is never shorter than the true one.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from dataclasses import dataclass

import psycopg2

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class RowState:
    t: float
    status: str
    token: int
    attempts: int
    suspect: bool = False  # crash_suspect: read for the evidence, judged by no scenario
    worker: str = ""


class JobPoller(threading.Thread):
    def __init__(self, url: str, *, interval: float = 0.1):
        super().__init__(name="chaos-job-poller", daemon=True)
        self.url = url
        self.interval = interval
        self.history: dict[str, list[RowState]] = {}
        self.outages: list[tuple[float, float]] = []  # spans when the database did not answer
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.polls = 0
        self._conn = None

    def run(self) -> None:
        down_since = None
        while not self.stopping.is_set():
            try:
                self.poll()
                if down_since is not None:
                    self.outages.append((down_since, time.time()))
                    down_since = None
            except psycopg2.Error:
                down_since = down_since or time.time()
                self._close()
            self.stopping.wait(self.interval)
        self._close()

    def poll(self) -> None:
        if self._conn is None:
            self._conn = psycopg2.connect(self.url, connect_timeout=2)
            self._conn.autocommit = True
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id::text, status, dispatch_token, attempts, crash_suspect, coalesce(worker_id, '') "
                "FROM jobs_job"
            )
            rows = cur.fetchall()
        t = time.time()
        with self.lock:
            self.polls += 1
            for job_id, *values in rows:
                states = self.history.setdefault(job_id, [])
                last = states[-1] if states else None
                if last is None or (last.status, last.token, last.attempts, last.suspect, last.worker) != tuple(values):
                    states.append(RowState(t, *values))

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(10)

    # --- reading ---

    def latest(self) -> dict[str, RowState]:
        with self.lock:
            return {job: states[-1] for job, states in self.history.items()}

    def count(self, job_ids, statuses) -> int:
        latest = self.latest()
        return sum(1 for j in job_ids if j in latest and latest[j].status in statuses)

    def all_terminal(self, job_ids) -> bool:
        return self.count(job_ids, TERMINAL) == len(list(job_ids))

    def state_at(self, job_id: str, t: float) -> RowState | None:
        """The last state observed at or before ``t``."""
        with self.lock:
            states = self.history.get(job_id, [])
            i = bisect_right([s.t for s in states], t)
            return states[i - 1] if i else None

    def first_after(self, job_id: str, t: float, predicate) -> RowState | None:
        with self.lock:
            return next((s for s in self.history.get(job_id, []) if s.t > t and predicate(s)), None)

    def first_seen(self, job_id: str, status: str) -> float | None:
        with self.lock:
            return next((s.t for s in self.history.get(job_id, []) if s.status == status), None)


@dataclass(frozen=True)
class FinalJob:
    id: str
    actor: str
    status: str
    attempts: int
    max_attempts: int
    error_type: str
    error_message: str


@dataclass(frozen=True)
class AttemptRow:
    job: str
    number: int
    outcome: str
    worker_id: str
    error_type: str


def read_final(url: str) -> tuple[dict[str, FinalJob], list[AttemptRow]]:
    """The rows as the engine left them: jobs_job and jobs_jobattempt."""
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id::text, actor_name, status, attempts, max_attempts, error_type, error_message FROM jobs_job"
            )
            jobs = {row[0]: FinalJob(*row) for row in cur.fetchall()}
            cur.execute("SELECT job_id::text, number, outcome, worker_id, error_type FROM jobs_jobattempt")
            attempts = [AttemptRow(*row) for row in cur.fetchall()]
    finally:
        conn.close()
    return jobs, attempts
