"""Worker hosts lost on the bed: cut off from the network (2), killed outright (3), a wrong clock (6)."""

import time

import pytest

from tests.multihost.checks import (
    jobs_running_on,
    late_effects,
    per_job,
    percentile,
    reruns_elsewhere,
    results_from_final_attempts,
    token_holders_overlap,
)
from tests.multihost.conftest import only_in_full_run
from tests.multihost.hosts import LIVENESS_TIMEOUT

pytestmark = pytest.mark.multihost
WORKER_HOSTS = ("h1", "h2", "h3")
RERUN_BOUND = LIVENESS_TIMEOUT + 10


def _start_three_hosts(sc, *, h3_env=None):
    for label in WORKER_HOSTS:
        sc.hosts[label].run_worker(processes=1, threads=4, env=h3_env if label == "h3" else None)
    sc.wait_workers(WORKER_HOSTS)


def _wait_running_on(sc, label: str, count: int) -> None:
    sc.wait_for(lambda: len(jobs_running_on(sc, label)) >= count, timeout=60, what=f"{label} to run jobs")


def _wait_reruns(sc, stranded: dict[str, int], *, away_from: str, timeout: float) -> dict[str, float]:
    """When each stranded job started again elsewhere; lock waits seen meanwhile go to ``sc.evidence``."""
    since, last_rows = time.time(), None
    ids = list(stranded)

    def all_rerun():
        nonlocal last_rows
        found = reruns_elsewhere(sc.events(), stranded, away_from=away_from)
        waits = sc.lock_waits()
        rows = sc.sql(
            "SELECT left(id::text, 8), status, dispatch_token, enqueued_at IS NOT NULL, left(worker_id, 12) "
            "FROM jobs_job WHERE id::text = ANY(%s) ORDER BY id",
            [ids],
        )
        if waits or rows != last_rows:
            sc.evidence.append((round(time.time() - since, 1), waits, rows, sc.bed.redis.client().llen("mh:default")))
            last_rows = rows
        return found if found.keys() >= stranded.keys() else None

    return sc.wait_for(all_rerun, timeout=timeout, what=f"{away_from}'s running jobs to run again elsewhere")


def _host_rows(sc, label: str) -> list[tuple]:
    return sc.sql("SELECT id, stopped_at FROM jobs_workerhost WHERE hostname = %s ORDER BY started_at", [f"mh-{label}"])


def test_scenario_2_a_host_cut_off_mid_run_is_replaced_then_fenced(bed, report):
    total = 240
    with bed.scenario("cutoff") as sc:
        _start_three_hosts(sc)
        ids = sc.hosts["h1"].agent("submit", {"count": total, "kwargs": {"seconds": 1.0}})["ids"]
        assert len(ids) == total
        _wait_running_on(sc, "h3", 4)
        cut_at = sc.cut("h3")
        time.sleep(0.5)  # claims already on the wire land or are lost
        stranded = jobs_running_on(sc, "h3")
        assert stranded, "h3 ran nothing when it was cut off"
        reruns = _wait_reruns(sc, stranded, away_from="h3", timeout=RERUN_BOUND + 20)
        time.sleep(2)  # stale copies on h3 keep running meanwhile (their effects are recorded)
        restored_at = sc.restore("h3")
        counts = sc.wait_all_finished(total, timeout=180)
        # h3 comes back as a new host: it was declared lost, so its old processes are replaced.
        sc.wait_for(lambda: len(_host_rows(sc, "h3")) >= 2, timeout=60, what="h3 to rejoin as a new host")
        sc.wait_workers(["h3"], timeout=60)
        events = sc.events()
        final_attempt = dict(sc.sql("SELECT id::text, attempts FROM jobs_job"))
        stale_returns = {(e.job, e.attempt) for e in events if e.kind == "return" and e.attempt != final_attempt[e.job]}
        sc.wait_for(
            lambda: stale_returns <= late_effects(sc).keys(),
            timeout=30,
            what="the stale copies' late effects to be recorded",
        )
        late = late_effects(sc)
        lost_attempts = dict(
            sc.sql("SELECT job_id::text || '/' || number, outcome FROM jobs_jobattempt WHERE outcome = 'lost'")
        )

        assert counts == {"succeeded": total}, counts
        delays = {job: at - cut_at for job, at in reruns.items()}
        assert max(delays.values()) <= RERUN_BOUND, f"reruns later than {RERUN_BOUND} s: {delays}; {sc.evidence}"
        assert all(f"{job}/{attempt}" in lost_attempts for job, attempt in stranded.items())
        assert not results_from_final_attempts(sc), "a stale copy's result was recorded"
        assert all(late[key] == "succeeded" for key in stale_returns), "a stale copy's return was not reported"
        assert not token_holders_overlap(sc), "two copies held a job's token at once"
        final_returns = per_job([e for e in events if e.attempt == final_attempt[e.job]], "return")
        assert set(final_returns.values()) == {1} and len(final_returns) == total
        assert sc.scalar("SELECT count(*) FROM jobs_workerhost WHERE hostname = 'mh-h3' AND stopped_at IS NULL") == 1

    stopped = sum(1 for outcome in late.values() if outcome == "stopped")
    report(
        f"scenario 2 (host cut off): h3 cut with {len(stranded)} running jobs; all ran again on h1/h2 after "
        f"{min(delays.values()):.1f}-{max(delays.values()):.1f} s (bound {RERUN_BOUND:g} s); restored after "
        f"{restored_at - cut_at:.1f} s: {len(stale_returns)} stale copies returned (fenced, results not recorded, "
        f"reported as late 'succeeded'), {stopped} stopped by fencing; token holders never overlapped; "
        f"{total} jobs succeeded; h3 rejoined as a new host"
    )


@only_in_full_run
def test_scenario_3_a_host_killed_outright_loses_nothing(bed, report):
    total, rounds = 600, 3
    with bed.scenario("killed") as sc:
        for label in ("h1", "h2"):
            sc.hosts[label].run_worker(processes=1, threads=8)
        sc.hosts["h3"].run_worker(processes=2, threads=8)
        sc.wait_workers(("h1", "h2"))
        sc.wait_workers(("h3",), processes=2)
        sc.hosts["h1"].agent("submit", {"count": total, "kwargs": {"seconds": 2.0}})
        delays, stranded_total, quiet_after_death = [], 0, True
        for _ in range(rounds):
            _wait_running_on(sc, "h3", 12)
            killed_at = sc.kill_host("h3")  # supervisor and worker processes, all at once
            time.sleep(0.3)
            stranded = jobs_running_on(sc, "h3")
            assert stranded, "h3 ran nothing when it was killed"
            reruns = _wait_reruns(sc, stranded, away_from="h3", timeout=RERUN_BOUND + 20)
            delays += [at - killed_at for at in reruns.values()]
            stranded_total += len(stranded)
            restarted_at = time.time()
            quiet_after_death &= not [
                e for e in sc.events() if e.host == "h3" and killed_at + 0.1 < e.at < restarted_at
            ]
            sc.hosts["h3"].run_worker(processes=2, threads=8)  # the machine comes back: a new host
            sc.wait_workers(("h3",), processes=2)
        counts = sc.wait_all_finished(total, timeout=240)
        events = sc.events()
        final_attempt = dict(sc.sql("SELECT id::text, attempts FROM jobs_job"))

        assert counts == {"succeeded": total}, counts
        delays.sort()
        assert delays[-1] <= RERUN_BOUND, f"{delays}; lock waits: {sc.evidence}"
        assert quiet_after_death, "a killed host's process did something after the kill"
        assert not results_from_final_attempts(sc)
        assert not token_holders_overlap(sc)
        final_returns = per_job([e for e in events if e.attempt == final_attempt[e.job]], "return")
        assert set(final_returns.values()) == {1} and len(final_returns) == total

    report(
        f"scenario 3 (host killed): h3 SIGKILLed whole {rounds} times (2 processes x 8 threads), "
        f"{stranded_total} running jobs lost with it; nothing lost ({total} succeeded, each result once); "
        f"kill-to-rerun p50 {percentile(delays, 0.5):.1f} s, p99 {percentile(delays, 0.99):.1f} s, "
        f"max {delays[-1]:.1f} s (liveness timeout {LIVENESS_TIMEOUT:g} s)"
    )


@only_in_full_run
def test_scenario_6_a_host_clock_30_s_ahead_reaps_nothing_alive(bed, report):
    long_jobs, short_jobs, failing_once = 24, 600, 60
    with bed.scenario("skew") as sc:
        _start_three_hosts(sc, h3_env={"JOBS_CLOCK_OFFSET_SECONDS": "30"})
        ids = sc.hosts["h1"].agent("submit", {"count": long_jobs, "kwargs": {"seconds": 2 * LIVENESS_TIMEOUT}})["ids"]
        ids += sc.hosts["h1"].agent("submit", {"count": short_jobs, "kwargs": {"seconds": 0.02}})["ids"]
        ids += sc.hosts["h1"].agent("submit", {"count": failing_once, "kwargs": {"fail_attempts": 1}})["ids"]
        counts = sc.wait_all_finished(len(ids), timeout=240)
        events = sc.events()
        db_now = sc.scalar("SELECT now()")
        hosts = sc.sql("SELECT hostname, stopped_at, heartbeat_at FROM jobs_workerhost")
        long_on_h3 = sum(1 for e in events if e.kind == "return" and e.host == "h3" and e.job in set(ids[:long_jobs]))

        assert counts == {"succeeded": len(ids)}, counts
        outcomes = dict(sc.sql("SELECT outcome, count(*) FROM jobs_jobattempt GROUP BY 1"))
        assert outcomes == {"failed": failing_once}, f"an attempt was released or lost: {outcomes}"
        assert sc.scalar("SELECT count(*) FROM jobs_job WHERE attempts <> 1") == failing_once
        # Attempt history on the database clock too, also for attempts that failed on the skewed host.
        skewed = sc.sql(
            "SELECT job_id, worker_id, started_at, finished_at FROM jobs_jobattempt WHERE started_at > finished_at"
        )
        assert not skewed, f"{len(skewed)} failed attempts start after they end (a host clock): {skewed[:2]}"
        assert len(hosts) == 3 and all(stopped is None for _, stopped, _ in hosts), f"a host was declared lost: {hosts}"
        # Heartbeats and times are the database's, not the skewed host's clock.
        assert all(abs((db_now - beat).total_seconds()) < 5 for _, _, beat in hosts), hosts
        assert sc.scalar("SELECT count(*) FROM jobs_job WHERE finished_at > now() OR started_at > finished_at") == 0
        assert set(per_job(events, "start").values()) == {1, 2}
        assert long_on_h3 >= 1, "the skewed host ran no job longer than the liveness timeout"
        h3_share = sum(1 for e in events if e.kind == "return" and e.host == "h3") / len(ids)

    report(
        f"scenario 6 (clock skew): h3's clock +30 s; {len(ids)} jobs ({long_on_h3} of {long_jobs} jobs of "
        f"{2 * LIVENESS_TIMEOUT:g} s > liveness {LIVENESS_TIMEOUT:g} s ran on h3, h3 ran {h3_share:.0%} in all, "
        f"{failing_once} failed once then succeeded): 0 attempts released, 0 hosts declared lost, heartbeats and "
        "attempt times on the database clock, each job ran once per attempt"
    )
