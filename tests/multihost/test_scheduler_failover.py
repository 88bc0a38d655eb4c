"""Scenario 4: two schedulers on two hosts; the active one's host is cut off; every fire time runs once."""

import time

import pytest

from tests.multihost.checks import per_job

pytestmark = pytest.mark.multihost
LEASE = 4  # seconds (run_scheduler's minimum is 3; production: 15)
SCHEDULER_ENV = {"SCHEDULER_LEASE_SECONDS": str(LEASE), "SCHEDULER_SYNC_INTERVAL": "1"}
LEADER_KEY = "mh:scheduler:leader"  # <DRAMATIQ_NAMESPACE>:scheduler:leader


def _leader_host(sc) -> str | None:
    holder = sc.bed.redis.client().get(LEADER_KEY)
    return holder.decode().split(":")[0].removeprefix("mh-") if holder else None


def _runs(sc, schedule_id: int) -> list[tuple]:
    return sc.sql(
        "SELECT r.fire_time, r.job_id::text, j.status FROM jobs_schedulerun r JOIN jobs_job j ON j.id = r.job_id "
        "WHERE r.schedule_id = %s ORDER BY r.fire_time",
        [schedule_id],
    )


def test_scenario_4_a_standby_scheduler_takes_over_and_each_fire_time_runs_once(bed, report):
    with bed.scenario("schedulers", env=SCHEDULER_ENV) as sc:
        sc.hosts["h3"].run_worker(processes=1, threads=4)
        sc.hosts["h1"].run_scheduler()
        sc.wait_for(lambda: _leader_host(sc) == "h1", timeout=60, what="the scheduler on h1 to lead")
        sc.hosts["h2"].run_scheduler()  # standby
        schedule_id = sc.hosts["h3"].agent("schedule", {"name": "every-second", "interval_seconds": 1})["id"]
        sc.wait_for(lambda: len(_runs(sc, schedule_id)) >= 5, timeout=60, what="five fires led by h1")

        cut_at = sc.cut("h1")
        sc.wait_for(lambda: _leader_host(sc) == "h2", timeout=LEASE + 15, what="h2 to take the lease")
        takeover_at = time.time()
        runs_at_takeover = len(_runs(sc, schedule_id))
        sc.wait_for(lambda: len(_runs(sc, schedule_id)) >= runs_at_takeover + 8, timeout=60, what="fires led by h2")
        restored_at = sc.restore("h1")
        time.sleep(LEASE + 2)  # h1's stalled calls go through now; it must stand by, not fire
        sc.hosts["h3"].agent("pause_schedule", {"id": schedule_id})
        time.sleep(2)
        runs = _runs(sc, schedule_id)
        sc.wait_for(
            lambda: all(status == "succeeded" for _, _, status in _runs(sc, schedule_id)),
            timeout=60,
            what="the scheduled jobs to succeed",
        )
        events = sc.events()
        leader_after = _leader_host(sc)

        fire_times = [fire_time.timestamp() for fire_time, _, _ in runs]
        gaps = {round(b - a, 3) for a, b in zip(fire_times, fire_times[1:], strict=False)}
        assert gaps == {1.0}, f"fire times missing or repeated: gaps {sorted(gaps)}"
        handover = [t for t in fire_times if cut_at - 1 <= t <= takeover_at]
        assert handover, "no fire time fell in the handover"
        assert fire_times[-1] > restored_at, "fires stopped before h1 came back"
        job_ids = [job_id for _, job_id, _ in runs]
        starts, returns = per_job(events, "start"), per_job(events, "return")
        assert all(starts[job_id] == 1 and returns[job_id] == 1 for job_id in job_ids), "a fire time ran twice"
        assert leader_after == "h2", f"the lease went back to {leader_after} after h1 returned"

    report(
        f"scenario 4 (schedulers): leader on h1 cut off; h2 took the lease after {takeover_at - cut_at:.1f} s "
        f"(lease {LEASE} s); {len(fire_times)} fire times every 1 s without a gap, each one job run exactly once, "
        f"{len(handover)} of them fired late by h2 for the handover; h1 came back as standby"
    )
