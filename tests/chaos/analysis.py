"""Verdicts computed from outside: copies, overlaps and completed effects counted per job.

A copy is one run of a job's actor in one thread of one process: from its ``start`` event to its
``return`` or ``raise`` event, or to the death of its process, or (still open) to the end of the
scenario. Two copies of one job whose intervals intersect ran at the same time. A completed
effect is a ``return`` event. A succeeded job's success is credited to the return of the attempt
the row says succeeded (or, when that attempt never returned, to its first return, and the job is
listed as ``success_not_returned``); every other return is a duplicate effect. A duplicate is
explained only by a kill between its return and the job's success commit: the engine recorded that
attempt as lost, its process died (after the return, since it recorded it), was not seen alive
after the row declared the attempt over, nor after the job's success was first seen.

Times: effects carry the effects Redis's clock; the watcher's and poller's observations carry this
process's clock (one host, one clock: checked at the start of the run). Each observation is taken
on the side that can only make a verdict stricter or a latency longer, never kinder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tests.chaos.effects import Event
from tests.chaos.observe import AttemptRow, FinalJob, JobPoller
from tests.chaos.processes import ProcessWatcher


@dataclass
class Copy:
    job: str
    attempt: int
    pid: int
    tid: int
    start: float
    end: float | None = None  # None: still running when the scenario ended
    ended_by: str = "open"  # return | raise | death | open

    def overlaps(self, other: Copy, horizon: float) -> bool:
        return self.start < (other.end or horizon) and other.start < (self.end or horizon)


def build_copies(events: list[Event], watcher: ProcessWatcher) -> dict[str, list[Copy]]:
    copies: dict[str, list[Copy]] = {}
    open_: dict[tuple[int, int, str, int], Copy] = {}
    for e in sorted(events, key=lambda e: e.t):
        key = (e.pid, e.tid, e.job, e.attempt)
        if e.kind == "start":
            copy = Copy(e.job, e.attempt, e.pid, e.tid, e.t)
            copies.setdefault(e.job, []).append(copy)
            open_[key] = copy
        elif e.kind in ("return", "raise") and key in open_:
            copy = open_.pop(key)
            copy.end, copy.ended_by = e.t, e.kind
    for copy in open_.values():
        death = watcher.death(copy.pid)
        if death is not None:
            copy.end, copy.ended_by = max(death, copy.start), "death"
    return copies


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (with fewer than 100 samples, p99 is the maximum)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def p50_p99(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (
        f"p50 {percentile(values, 50):.1f} s p99 {percentile(values, 99):.1f} s max {max(values):.1f} s n={len(values)}"
    )


def settled_text(settled: float | None, bound: float) -> str:
    return f"after {settled:.0f} s" if settled is not None else f"NOT within {bound:g} s"


@dataclass
class Verdict:
    """Per-scenario counts; ``problems`` lists each violation with the job it concerns."""

    jobs: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    copies: int = 0
    effects: int = 0
    overlapping_jobs: list[str] = field(default_factory=list)
    max_concurrent: int = 0
    duplicates: int = 0
    explained: int = 0
    unexplained: list[str] = field(default_factory=list)
    # Succeeded, but the attempt the row credits never completed its effect (its copy still ran or
    # died): the success was written by, or for, some other copy.
    success_not_returned: list[str] = field(default_factory=list)
    open_at_end: list[str] = field(default_factory=list)  # copies still running when judged
    lost_attempts: int = 0
    lost_alive: list[str] = field(default_factory=list)  # lost attempts whose copy was never killed
    effects_by_job: dict[str, int] = field(default_factory=dict)
    starts_by_job: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        statuses = " ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"jobs {self.jobs} ({statuses}); copies {self.copies}, effects {self.effects}; "
            f"overlapping jobs {len(self.overlapping_jobs)} (max {self.max_concurrent} at once); "
            f"duplicate effects {self.duplicates} ({self.explained} explained, {len(self.unexplained)} not); "
            f"lost attempts {self.lost_attempts} ({len(self.lost_alive)} from live copies)"
            + (
                f"; succeeded for an attempt that never returned {len(self.success_not_returned)}"
                if self.success_not_returned
                else ""
            )
            + (f"; copies still running at the end {len(self.open_at_end)}" if self.open_at_end else "")
        )


def judge(
    job_ids: list[str],
    copies: dict[str, list[Copy]],
    final: dict[str, FinalJob],
    attempts: list[AttemptRow],
    watcher: ProcessWatcher,
    poller: JobPoller,
    horizon: float,
) -> Verdict:
    v = Verdict(jobs=len(job_ids))
    lost = {(a.job, a.number) for a in attempts if a.outcome == "lost"}
    for job_id in job_ids:
        row = final.get(job_id)
        status = row.status if row else "missing"
        v.statuses[status] = v.statuses.get(status, 0) + 1
        job_copies = sorted(copies.get(job_id, []), key=lambda c: c.start)
        v.copies += len(job_copies)
        v.starts_by_job[job_id] = len(job_copies)
        _judge_overlaps(v, job_id, job_copies, horizon)
        returns = sorted((c for c in job_copies if c.ended_by == "return"), key=lambda c: c.end)
        v.effects += len(returns)
        v.effects_by_job[job_id] = len(returns)
        v.open_at_end += [job_id for c in job_copies if c.ended_by == "open"]
        credited = next((c for c in returns if status == "succeeded" and c.attempt == row.attempts), None)
        if credited is None:
            if status == "succeeded":
                v.success_not_returned.append(job_id)
            credited = returns[0] if returns else None  # the first effect is not a duplicate
        succeeded_seen = poller.first_seen(job_id, "succeeded")
        for copy in returns:
            if copy is credited:
                continue
            v.duplicates += 1
            # It returned, so its process was alive then: a death recorded at all came after the return.
            explained = (
                (job_id, copy.attempt) in lost
                and watcher.death(copy.pid) is not None
                and not _copy_was_alive_when_lost(copy, watcher, poller)
                and (succeeded_seen is None or watcher.last_alive(copy.pid) <= succeeded_seen)
            )
            if explained:
                v.explained += 1
            else:
                v.unexplained.append(job_id)
    wanted = set(job_ids)
    for job_id, number in sorted(lost):
        if job_id not in wanted:
            continue
        v.lost_attempts += 1
        mine = [c for c in copies.get(job_id, []) if c.attempt == number]
        if any(_copy_was_alive_when_lost(c, watcher, poller) for c in mine):
            v.lost_alive.append(job_id)
    return v


def _judge_overlaps(v: Verdict, job_id: str, job_copies: list[Copy], horizon: float) -> None:
    worst = 1 if job_copies else 0
    for i, copy in enumerate(job_copies):
        concurrent = 1 + sum(1 for other in job_copies[:i] if other.overlaps(copy, horizon))
        worst = max(worst, concurrent)
    if worst > 1:
        v.overlapping_jobs.append(job_id)
    v.max_concurrent = max(v.max_concurrent, worst)


def _copy_was_alive_when_lost(copy: Copy, watcher: ProcessWatcher, poller: JobPoller) -> bool:
    """A lost attempt is honest when its copy's process was dead by the time the row said so;
    the engine took a live copy's job when the process never died, or was seen alive after the row
    (as polled: an upper bound of when it said so) had declared the attempt over."""
    if copy.ended_by == "death":
        return False
    if watcher.death(copy.pid) is None:
        return True
    declared = poller.first_after(
        copy.job,
        copy.start,
        lambda s: s.attempts > copy.attempt or (s.attempts == copy.attempt and s.status != "running"),
    )
    return declared is not None and watcher.last_alive(copy.pid) > declared.t


def kill_latencies(
    kills, copies: dict[str, list[Copy]], poller: JobPoller
) -> tuple[list[tuple[str, float]], list[tuple[str, float]], dict[str, int]]:
    """Per (kill, job running on the killed process): kill -> back in the queue (the row leaves
    ``running`` with a new dispatch token, as polled) and kill -> that job's next start event.

    Returns (requeue samples, next-start samples) as (phase, seconds), and counts of victims that
    never came back (``not requeued``, ``not restarted``) or finished through another copy.
    """
    requeue, restart = [], []
    misses = {"victims": 0, "not requeued": 0, "not restarted": 0, "finished by another copy": 0}
    for kill in kills:
        for job_id, job_copies in copies.items():
            victims = [c for c in job_copies if c.pid == kill.pid and c.start <= kill.t and c.ended_by == "death"]
            if not victims:
                continue
            misses["victims"] += 1
            token = _token_held(poller, job_id, victims[0].start, kill.t)
            back = poller.first_after(job_id, kill.t, lambda s, token=token: s.token > token or s.status != "running")
            if back is not None and back.token > token:
                requeue.append((kill.phase, back.t - kill.t))
            elif back is not None and back.status == "succeeded":
                misses["finished by another copy"] += 1
            else:
                misses["not requeued"] += 1
            later = [c.start for c in job_copies if c.start > kill.t]
            if later:
                restart.append((kill.phase, min(later) - kill.t))
            else:
                misses["not restarted"] += 1
    return requeue, restart, misses


def _token_held(poller: JobPoller, job_id: str, started: float, killed: float) -> int:
    """The row's dispatch token when the victim was killed, as last polled before the kill.

    Off only if the row was republished, claimed and started within one poll before the kill."""
    state = poller.state_at(job_id, killed)
    return state.token if state else -1
