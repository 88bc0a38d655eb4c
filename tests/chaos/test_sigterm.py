"""(c) SIGTERM with short and long jobs in flight, to the supervisor alone and to its whole process
group (what honcho and systemd send); a new supervisor starts at once, as in a rolling restart.

Short jobs finish within the shutdown timeout: exactly one effect each. Long ones outlast it: their
copy on the old worker ends unfinished, and they complete once, on the new worker."""

import pytest

from tests.chaos.analysis import settled_text
from tests.chaos.conftest import scaled
from tests.chaos.harness import LIVENESS_TIMEOUT

pytestmark = pytest.mark.chaos

SHORT_JOBS, SHORT_SECONDS, LONG_JOBS = 20, 1.0, 2
# The drain outlasts the liveness timeout (a draining worker must not look dead), the long jobs the drain.
LONG_SECONDS, SHUTDOWN_TIMEOUT = scaled(short=(10, int(LIVENESS_TIMEOUT) + 3), full=(60, 10))
# The short form signals the group only: what honcho and systemd send, and what failed most.
TARGETS = scaled(short=["group"], full=["supervisor", "group"])
# Each process has room for all 22 at once: whichever process prefetches them runs them all.
PROCESSES, THREADS = 2, SHORT_JOBS + LONG_JOBS


@pytest.mark.parametrize("target", TARGETS)
def test_sigterm_with_short_and_long_jobs_in_flight(scenario, report, target):
    sc = scenario(f"c-{target}")
    old = sc.start_supervisor("old", processes=PROCESSES, threads=THREADS, shutdown_timeout=SHUTDOWN_TIMEOUT)
    long_ids = sc.submit("chaos.work", [[[LONG_SECONDS], {}]] * LONG_JOBS)
    sc.wait_started(long_ids, timeout=60)
    short_ids = sc.submit("chaos.work", [[[SHORT_SECONDS], {}]] * SHORT_JOBS)
    sc.wait_started(short_ids, timeout=30)
    signalled_at = old.sigterm() if target == "supervisor" else old.sigterm_group()
    sc.marks["sigterm"] = signalled_at
    sc.start_supervisor("new", processes=PROCESSES, threads=THREADS, shutdown_timeout=SHUTDOWN_TIMEOUT, wait=False)
    old_exit = old.wait_exit(SHUTDOWN_TIMEOUT + 30)
    bound = LONG_SECONDS + SHUTDOWN_TIMEOUT + 45
    settled = sc.wait_terminal(long_ids + short_ids, timeout=bound)
    v = sc.judge(long_ids + short_ids)

    in_flight = {
        j
        for j, copies in sc.copies.items()
        if any(c.start <= signalled_at and (c.end is None or c.end > signalled_at) for c in copies)
    }
    short_effects = [v.effects_by_job[j] for j in short_ids]
    short_starts = [v.starts_by_job[j] for j in short_ids]
    long_on_new = {
        j: [c for c in sc.copies.get(j, []) if c.ended_by == "return" and sc.watcher.owner(c.pid) == "new"]
        for j in long_ids
    }
    short_twice = sum(1 for n in short_effects if n > 1)
    short_never = sum(1 for n in short_effects if n == 0)
    report(
        f"c-{target}",
        f"SIGTERM to the {target} [{SHORT_JOBS} x {SHORT_SECONDS:g} s + {LONG_JOBS} x {LONG_SECONDS} s in flight, "
        f"{PROCESSES}x{THREADS}, shutdown timeout {SHUTDOWN_TIMEOUT} s]: in flight at the signal "
        f"{len(in_flight & set(short_ids))} short, {len(in_flight & set(long_ids))} long; old supervisor exited "
        f"{'after %.1f s' % (old.exited_at - signalled_at) if old_exit is not None else 'NOT within the wait'}; "
        f"short: effects once {short_effects.count(1)}, more {short_twice}, never {short_never}, "
        f"started more than once {sum(1 for n in short_starts if n > 1)}; "
        f"long: effects {[v.effects_by_job[j] for j in long_ids]}, on the new worker "
        f"{[len(c) for c in long_on_new.values()]}; {v.summary()}; all terminal "
        f"{settled_text(settled, bound)}; {sc.elapsed:.0f} s",
    )
    assert set(long_ids) <= in_flight and len(in_flight & set(short_ids)) >= SHORT_JOBS // 2, "signal came too late"
    assert old_exit is not None, "the old supervisor did not exit"
    assert not v.overlapping_jobs, f"two copies at once: {v.overlapping_jobs}"
    assert v.statuses == {"succeeded": SHORT_JOBS + LONG_JOBS}, v.statuses
    assert short_effects == [1] * SHORT_JOBS, f"short jobs' effects: {short_effects}"
    # Exactly once means drained: a short job cut off and run again elsewhere ran twice.
    assert short_starts == [1] * SHORT_JOBS, f"short jobs' starts (the drain cut some off): {short_starts}"
    assert [v.effects_by_job[j] for j in long_ids] == [1] * LONG_JOBS, "long jobs must complete exactly once"
    assert all(len(c) == 1 for c in long_on_new.values()), "long jobs complete on the new worker"
