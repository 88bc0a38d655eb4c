"""(a) A SIGKILL storm: a random worker process killed every 2-3 s while jobs run.

Phase "loaded": a backlog of jobs, kills until it drains, that is until no more jobs are left
than the pool has threads: past that point a kill that must hit work would hit the last few jobs
at every attempt, which is exactly a poison job, and the engine rightly fails it after its retries.
Phase "spare": jobs trickle in, fewer live than half the threads, kills go on: kill -> next start
is judged there, where a job that comes back has a free thread waiting for it.
"""

import random
import time

import pytest

from tests.chaos.analysis import kill_latencies, p50_p99, percentile, settled_text
from tests.chaos.conftest import RUN_ID, scaled

pytestmark = pytest.mark.chaos

PROCESSES, THREADS = 2, 4
# loaded_kills caps the loaded phase's kills (the short form's time budget); None: until it drains.
P = scaled(
    short=dict(jobs=30, seconds=(0.5, 1.5), min_kills=7, loaded_kills=4, spare_kills=3, spare_seconds=(2.0, 4.0)),
    full=dict(jobs=300, seconds=(0.5, 3.0), min_kills=60, loaded_kills=None, spare_kills=20, spare_seconds=(3.0, 6.0)),
)
LOADED_LIMIT = scaled(short=40, full=300)  # seconds of the loaded phase at most
SETTLE = scaled(short=45, full=150)  # seconds for every job to end once the kills stop
REQUEUE_P99 = 5.0
# kill -> next start: the bound (15 s) is judged at full size, by `make chaos`. The short form
# runs inside `make test`, beside two other test workers on two cores, and judges 3 to 7 samples, so
# its p99 is its maximum: when a kill makes three jobs crash suspects at once, the third waits for
# one of the two processes' suspect slots while the storm goes on killing the busy processes, and
# one such chain measured 15.2 s in CI (12.4 s on a quiet machine). Twice the bound still fails an
# engine that republishes at the back of the queue (44-59 s on the old main).
RESTART_P99 = scaled(short=30.0, full=15.0)


def kill_one(sc, rng: random.Random, phase: str) -> bool:
    """SIGKILL a random worker process, preferring one that runs a job (a kill must hit work)."""
    candidates = sc.busy_pids() or [p.pid for s in sc.supervisors for p in s.leaves()]
    if not candidates:
        return False
    return sc.watcher.kill(rng.choice(candidates), phase=phase) is not None


def test_sigkill_storm(scenario, report):
    rng = random.Random(f"{RUN_ID}-a")
    sc = scenario("a")
    sc.start_supervisor("pool", processes=PROCESSES, threads=THREADS)
    ids = sc.submit("chaos.work", [[[round(rng.uniform(*P["seconds"]), 2)], {}] for _ in range(P["jobs"])])
    sc.wait_started(ids, 1, timeout=60)

    skipped = 0
    deadline = time.monotonic() + LOADED_LIMIT

    def backlog() -> bool:
        return len(ids) - sc.poller.count(ids, ("succeeded", "failed", "cancelled")) > PROCESSES * THREADS

    while backlog() and time.monotonic() < deadline:
        if P["loaded_kills"] is not None and len(sc.watcher.kills) >= P["loaded_kills"]:
            break
        time.sleep(rng.uniform(2, 3))
        skipped += not kill_one(sc, rng, "loaded")
    loaded_drained = not backlog()
    sc.marks["loaded kills over"] = time.time()
    # The spare phase starts on an empty queue: without kills, the backlog drains first.
    backlog_left = sc.wait_terminal(ids, timeout=SETTLE)
    sc.marks["spare phase"] = time.time()

    spare_ids: list[str] = []
    most_live = 0
    spare_cap = PROCESSES * THREADS // 2 - 1

    def kills(phase: str) -> int:
        return sum(1 for k in sc.watcher.kills if k.phase == phase)

    deadline = time.monotonic() + max(P["spare_kills"], P["min_kills"] - kills("loaded")) * 3 + 30
    next_kill = time.monotonic() + rng.uniform(2, 3)
    while (kills("spare") < P["spare_kills"] or len(sc.watcher.kills) < P["min_kills"]) and time.monotonic() < deadline:
        latest = sc.poller.latest()
        live = sum(1 for j in spare_ids if j not in latest or latest[j].status not in ("succeeded", "failed"))
        most_live = max(most_live, live)
        if live < spare_cap:
            spare_ids += sc.submit("chaos.work", [[[round(rng.uniform(*P["spare_seconds"]), 2)], {}]])
        if time.monotonic() >= next_kill:
            skipped += not kill_one(sc, rng, "spare")
            next_kill = time.monotonic() + rng.uniform(2, 3)
        time.sleep(0.1)

    drained = "during the kills" if loaded_drained else "after them" if backlog_left is not None else "NEVER"
    sc.marks["spare kills over"] = time.time()
    all_ids = ids + spare_ids
    settled = sc.wait_terminal(all_ids, timeout=SETTLE)
    v = sc.judge(all_ids)
    requeue, restart, misses = kill_latencies(sc.watcher.kills, sc.copies, sc.poller)
    requeue_s = [s for _, s in requeue]
    spare_restart = [s for phase, s in restart if phase == "spare"]
    loaded_restart = [s for phase, s in restart if phase == "loaded"]
    victims_pids = {k.pid for k in sc.watcher.kills}
    collateral = sum(
        1 for c in (c for cs in sc.copies.values() for c in cs) if c.ended_by == "death" and c.pid not in victims_pids
    )
    report(
        "a",
        f"SIGKILL storm [{sc.tag}, {len(all_ids)} jobs, {PROCESSES}x{THREADS}]: "
        f"kills {len(sc.watcher.kills)} (loaded {kills('loaded')}, spare {kills('spare')}; {skipped} more kill "
        f"times found no worker process up); backlog drained {drained}; "
        f"{v.summary()}; "
        f"copies killed by a death we did not cause {collateral}; "
        f"kill->back in queue {p50_p99(requeue_s)}; kill->next start spare {p50_p99(spare_restart)} "
        f"(live jobs <= {most_live} of {PROCESSES * THREADS} threads), loaded {p50_p99(loaded_restart)}; "
        f"victims {misses['victims']}, not requeued {misses['not requeued']}, "
        f"not restarted {misses['not restarted']}; all terminal "
        f"{settled_text(settled, SETTLE)}; {sc.elapsed:.0f} s",
    )

    assert v.statuses == {"succeeded": len(all_ids)}, v.statuses
    assert not v.overlapping_jobs, f"two copies at once: {v.overlapping_jobs[:5]}"
    assert not v.unexplained, f"duplicate effects not explained by a kill: {v.unexplained[:5]}"
    assert not v.success_not_returned, f"succeeded for an attempt that never returned: {v.success_not_returned[:5]}"
    assert not v.lost_alive, f"lost attempts taken from live copies: {v.lost_alive[:5]}"
    assert requeue_s and percentile(requeue_s, 99) < REQUEUE_P99, p50_p99(requeue_s)
    assert spare_restart and percentile(spare_restart, 99) < RESTART_P99, p50_p99(spare_restart)
    # Last: a storm smaller than its size judges less. A kill time that finds no worker process up
    # (the supervisor not restarting it yet) is the engine's doing, and fails here too.
    assert len(ids) >= P["jobs"]
    assert len(sc.watcher.kills) >= P["min_kills"], (
        f"{len(sc.watcher.kills)} kills: {skipped} kill times found no worker process up"
    )
