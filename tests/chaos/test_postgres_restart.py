"""(d) PostgreSQL restarted while jobs run: a private cluster the test starts, restarted with
``pg_ctl restart -m fast`` (sessions closed cleanly) and ``-m immediate`` (a crash, then recovery)."""

import random
import time

import pytest

from tests.chaos.analysis import settled_text
from tests.chaos.conftest import LOG_DIR, RUN_ID, scaled
from tests.chaos.infra import PostgresServer, PrivatePostgres, wait_until

pytestmark = pytest.mark.chaos

JOBS = scaled(short=30, full=100)
SECONDS = (0.5, 2.0)
SETTLE = scaled(short=60, full=120)
# The short form restarts with -m immediate only: a crash and recovery, the harsher of the two.
MODES = scaled(short=["immediate"], full=["fast", "immediate"])


@pytest.fixture(scope="module")
def private_postgres(chaos_world):
    why_not = PrivatePostgres.available()
    if why_not:
        pytest.skip(f"!!! no private PostgreSQL cluster: {why_not} !!!")
    cluster = PrivatePostgres(RUN_ID)
    try:
        cluster.start()
        server = PostgresServer(cluster.url, prefix=f"chaos_{RUN_ID}", log_dir=LOG_DIR)
        yield cluster, server
    finally:
        cluster.stop()


@pytest.mark.parametrize("mode", MODES)
def test_postgres_restarted_mid_run(scenario, report, private_postgres, mode):
    cluster, server = private_postgres
    rng = random.Random(f"{RUN_ID}-d-{mode}")
    sc = scenario(f"d-{mode}", postgres=server)
    sc.start_supervisor("pool", processes=2, threads=4)
    ids = sc.submit("chaos.work", [[[round(rng.uniform(*SECONDS), 2)], {}] for _ in range(JOBS)])
    wait_until(lambda: sc.poller.count(ids, ("succeeded",)) >= JOBS // 3, timeout=90, message="a third to succeed")
    done_before = sc.poller.count(ids, ("succeeded",))
    restarted_at = time.time()
    took = cluster.restart(mode)
    settled = sc.wait_terminal(ids, timeout=SETTLE)
    v = sc.judge(ids)
    outage = sum(end - begin for begin, end in sc.poller.outages if end >= restarted_at)
    latest = sc.poller.latest()
    stuck = sorted({latest[j].status for j in ids if j in latest and latest[j].status not in ("succeeded", "failed")})
    report(
        f"d-{mode}",
        f"PostgreSQL restart -m {mode} [{JOBS} jobs, 2x4]: restarted after {done_before} succeeded, pg_ctl took "
        f"{took:.1f} s, database unanswered for {outage:.1f} s; {v.summary()}; "
        f"all terminal {settled_text(settled, SETTLE)} "
        f"(still live: {stuck or 'none'}); {sc.elapsed:.0f} s",
    )
    assert settled is not None, f"jobs stuck: {stuck}"
    assert v.statuses == {"succeeded": JOBS}, v.statuses
    assert not v.overlapping_jobs, f"two copies at once: {v.overlapping_jobs[:5]}"
    assert not v.unexplained, f"duplicate effects not explained by a kill: {v.unexplained[:5]}"
