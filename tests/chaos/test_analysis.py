"""The harness's verdicts on made-up timelines: what it calls an overlap, an explained duplicate, a
lost attempt taken from a live copy, and how it measures kill -> requeue and kill -> next start.

These need no worker, no PostgreSQL: they run everywhere, so the judge is checked before it judges.
"""

import json
import time
import uuid

import redis
from django.conf import settings

from tests.chaos.analysis import build_copies, judge, kill_latencies, percentile
from tests.chaos.effects import _RECORD, EffectLog, Event
from tests.chaos.observe import AttemptRow, FinalJob, JobPoller, RowState
from tests.chaos.processes import Kill, ProcessWatcher, WorkerPid

JOB = "job-1"


def event(kind, t, *, pid=100, attempt=1, tid=1, job=JOB):
    return Event(kind=kind, job=job, attempt=attempt, pid=pid, tid=tid, t=t, clock=t, django_clock=t)


def watcher_with(deaths: dict[int, float | None], kills=()) -> ProcessWatcher:
    """Processes that died at the given times (None: alive), last seen alive 0.1 s before."""
    watcher = ProcessWatcher(effects=None)
    for pid, died in deaths.items():
        watcher.pids[pid] = WorkerPid(pid, "pool", 0.0, 0.0, died_at=died, last_alive=(died or 100.0) - 0.1)
    for kill in kills:
        watcher.pids[kill.pid].killed_at = kill.returned
        watcher.pids[kill.pid].last_alive = kill.t
        watcher.kills.append(kill)
    return watcher


def poller_with(history: dict[str, list[tuple]]) -> JobPoller:
    poller = JobPoller("postgres://unused")
    poller.history = {job: [RowState(*state) for state in states] for job, states in history.items()}
    return poller


def final(status="succeeded", attempts=2):
    return {JOB: FinalJob(JOB, "chaos.work", status, attempts, 21, "", "")}


def test_a_copy_ends_at_its_process_death_and_the_next_copy_after_it_is_no_overlap():
    events = [event("start", 1.0), event("start", 5.0, pid=200, attempt=2), event("return", 6.0, pid=200, attempt=2)]
    watcher = watcher_with({100: None, 200: None}, kills=[Kill(100, 2.0, 2.0, "loaded")])
    copies = build_copies(events, watcher)
    assert [(c.end, c.ended_by) for c in copies[JOB]] == [(2.0, "death"), (6.0, "return")]
    v = judge([JOB], copies, final(), [AttemptRow(JOB, 1, "lost", "", "")], watcher, poller_with({}), 10.0)
    assert v.overlapping_jobs == [] and v.effects == 1 and v.duplicates == 0 and v.lost_alive == []


def test_a_copy_started_before_the_other_died_overlaps_even_on_one_process_and_attempt():
    events = [event("start", 1.0, tid=1), event("start", 1.5, tid=2), event("return", 3.0, tid=1)]
    copies = build_copies(events, watcher_with({100: None}))
    v = judge([JOB], copies, final(attempts=1), [], watcher_with({100: None}), poller_with({}), 10.0)
    assert v.overlapping_jobs == [JOB] and v.max_concurrent == 2
    assert v.open_at_end == [JOB]  # the second copy never ended


def test_a_duplicate_is_explained_only_by_a_lost_attempt_whose_process_died_after_returning():
    events = [
        event("start", 1.0),
        event("return", 2.0),
        event("start", 8.0, pid=200, attempt=2),
        event("return", 9.0, pid=200, attempt=2),
    ]
    history = {JOB: [(0.5, "running", 0, 1), (7.0, "retrying", 1, 1), (8.0, "running", 1, 2), (9.1, "succeeded", 1, 2)]}
    lost = [AttemptRow(JOB, 1, "lost", "", "")]

    def verdict(deaths, attempts, kills=()):
        watcher = watcher_with(deaths, kills)
        copies = build_copies(events, watcher)
        return judge([JOB], copies, final(), attempts, watcher, poller_with(history), 10.0)

    killed = verdict({100: None, 200: None}, lost, kills=[Kill(100, 2.5, 2.5, "loaded")])
    assert (killed.duplicates, killed.explained, killed.unexplained, killed.lost_alive) == (1, 1, [], [])
    never_lost = verdict({100: None, 200: None}, [], kills=[Kill(100, 2.5, 2.5, "loaded")])
    assert never_lost.unexplained == [JOB]
    alive = verdict({100: None, 200: None}, lost)
    assert alive.unexplained == [JOB] and alive.lost_alive == [JOB]
    died_after_the_reap = verdict({100: 7.5, 200: None}, lost)  # the row said lost at 7.0
    assert died_after_the_reap.lost_alive == [JOB] and died_after_the_reap.unexplained == [JOB]
    died_before_the_reap = verdict({100: 6.5, 200: None}, lost)
    assert died_before_the_reap.explained == 1 and died_before_the_reap.lost_alive == []
    died_after_the_success = verdict({100: 9.5, 200: None}, lost)  # seen alive after the row said lost
    assert died_after_the_success.unexplained == [JOB]


def test_a_success_for_an_attempt_that_never_returned_is_reported():
    events = [event("start", 1.0), event("return", 2.0), event("start", 1.5, pid=200, attempt=2)]
    watcher = watcher_with({100: None, 200: None})
    v = judge([JOB], build_copies(events, watcher), final(attempts=2), [], watcher, poller_with({}), 10.0)
    assert v.success_not_returned == [JOB] and v.duplicates == 0 and v.overlapping_jobs == [JOB]


def test_kill_latencies_measure_to_the_new_token_and_to_the_next_start():
    events = [event("start", 8.0), event("start", 16.0, pid=200, attempt=2), event("return", 17.0, pid=200, attempt=2)]
    kill = Kill(100, 10.0, 10.0, "spare")
    watcher = watcher_with({100: None, 200: None}, kills=[kill])
    history = {JOB: [(7.9, "running", 0, 1), (14.5, "retrying", 1, 1), (16.1, "running", 1, 2)]}
    requeue, restart, misses = kill_latencies([kill], build_copies(events, watcher), poller_with(history))
    assert requeue == [("spare", 4.5)] and restart == [("spare", 6.0)]
    assert misses == {"victims": 1, "not requeued": 0, "not restarted": 0, "finished by another copy": 0}


def test_percentile_is_nearest_rank():
    assert percentile([], 99) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([1.0, 9.0], 99) == 9.0


def test_events_are_stamped_with_the_effects_redis_clock():
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"chaos-selftest-{uuid.uuid4().hex}"
    try:
        body = {"kind": "start", "job": JOB, "attempt": 1, "pid": 1, "tid": 1, "clock": 0.0, "django_clock": 0.0}
        before = time.time()
        client.eval(_RECORD, 1, key, json.dumps(body))
        after = time.time()
        [recorded] = EffectLog(client, key).refresh()
        assert before - 0.05 <= recorded.t <= after + 0.05 and recorded.skew < 0
    finally:
        client.delete(key)
