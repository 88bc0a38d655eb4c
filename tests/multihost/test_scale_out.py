"""Scale-out on the bed: work spreads over worker hosts (1); web hosts share idempotency keys (5)."""

import time
from collections import Counter

import pytest

from tests.multihost.checks import host_shares, per_job
from tests.multihost.conftest import only_in_full_run

pytestmark = pytest.mark.multihost
WORKER_HOSTS = ("h1", "h2", "h3")


def test_scenario_1_jobs_spread_over_three_worker_hosts_and_run_once(bed, report):
    total = 2000
    with bed.scenario("spread") as sc:
        for label in WORKER_HOSTS:
            sc.hosts[label].run_worker(processes=1, threads=4)
        sc.wait_workers(WORKER_HOSTS)
        started = time.monotonic()
        ids = sc.hosts["h1"].agent("submit", {"count": total})["ids"]
        counts = sc.wait_all_finished(total, timeout=240)
        elapsed = time.monotonic() - started
        events = sc.events()

        assert len(ids) == total
        assert counts == {"succeeded": total}, counts
        assert sc.scalar("SELECT count(*) FROM jobs_job WHERE attempts <> 1") == 0
        starts, returns = per_job(events, "start"), per_job(events, "return")
        assert set(starts) == set(ids) and set(starts.values()) == {1}, "every job started exactly once"
        assert set(returns) == set(ids) and set(returns.values()) == {1}, "every job returned exactly once"
        shares = host_shares(events)
        assert set(shares) == set(WORKER_HOSTS), shares
        assert min(shares.values()) >= 0.20, f"a host ran less than 20 % of the jobs: {shares}"
        # The engine's own record agrees on who ran what (worker ids name their host).
        by_host = Counter(
            dict(
                sc.sql(
                    "SELECT w.hostname, count(*) FROM jobs_job j JOIN jobs_worker w ON w.id = j.worker_id GROUP BY 1"
                )
            )
        )
        assert sum(by_host.values()) == total and len(by_host) == 3

    spread = ", ".join(f"{host} {share:.0%}" for host, share in shares.items())
    report(
        f"scenario 1 (spread): {total:,} jobs over 3 worker hosts (1 process x 4 threads each) in {elapsed:.1f} s "
        f"from submit ({total / elapsed:.0f} jobs/s); per host {spread}; each started and returned exactly once"
    )


@only_in_full_run
def test_scenario_5_idempotency_keys_hold_across_two_web_hosts(bed, report):
    keys = [f"order-{n}" for n in range(200)]
    with bed.scenario("webhosts") as sc:
        web_hosts = ("h1", "h2")
        for label in web_hosts:
            sc.hosts[label].web(port=8000)
        sc.hosts["h3"].run_worker(processes=1, threads=16)
        token = sc.hosts["h3"].agent("api_token")["token"]
        for label in web_hosts:
            bed.network.wait_reachable("h3", sc.hosts[label].address, 8000, timeout=60)
        sc.wait_workers(["h3"])
        urls = [f"http://{sc.hosts[label].address}:8000" for label in web_hosts]
        # Each key goes to both web hosts at the same moment (16 requests in flight): no balancer. A key
        # dedupes live jobs (a finished job frees it), so each job lasts a second: both requests of a
        # key arrive while its job is live, whatever state it is in by then.
        answers = sc.hosts["h3"].agent(
            "post_jobs", {"urls": urls, "token": token, "keys": keys, "concurrency": 16, "kwargs": {"seconds": 1.0}}
        )
        responses = answers["responses"]
        counts = sc.wait_all_finished(len(keys), timeout=120)
        events = sc.events()

        assert len(responses) == 2 * len(keys)
        assert {r["status"] for r in responses} <= {200, 201}, [r for r in responses if r["status"] not in (200, 201)]
        per_key = {}
        for r in responses:
            per_key.setdefault(r["key"], []).append(r)
        for key, pair in per_key.items():
            assert len({r["job"] for r in pair}) == 1, f"{key} got two jobs: {pair}"
            assert sorted(r["status"] for r in pair) == [200, 201], f"{key}: {pair}"
        rows = sc.sql("SELECT idempotency_key, count(*) FROM jobs_job WHERE actor_name = 'mh.effect' GROUP BY 1")
        assert len(rows) == len(keys) and {count for _, count in rows} == {1}
        assert counts == {"succeeded": len(keys)}, counts
        assert set(per_job(events, "start").values()) == {1} and len(per_job(events, "start")) == len(keys)
        created_on = Counter(r["url"] for r in responses if r["status"] == 201)

        # Jobs that finish in milliseconds: the loser of a key race may find the winner's job already
        # finished when it reads it back (it used to answer 500). Every answer is now that job or, if
        # the request came after the job finished, a new one (the key frees with the job).
        fast_keys = [f"fast-{n}" for n in range(300)]
        fast = sc.hosts["h3"].agent("post_jobs", {"urls": urls, "token": token, "keys": fast_keys, "concurrency": 16})
        sc.wait_all_finished(len(keys) + len({r["job"] for r in fast["responses"]}), timeout=120)
        fast_statuses = Counter(r["status"] for r in fast["responses"])
        job_keys = dict(sc.sql("SELECT id::text, idempotency_key FROM jobs_job"))
        assert set(fast_statuses) <= {200, 201}, [r for r in fast["responses"] if r["status"] not in (200, 201)]
        assert all(job_keys[r["job"]] == r["key"] for r in fast["responses"])
        fast_jobs_per_key = Counter(job_keys[job] for job in {r["job"] for r in fast["responses"]})

    split = ", ".join(f"{url.split('//')[1].split(':')[0]}: {n}" for url, n in sorted(created_on.items()))
    report(
        f"scenario 5 (two web hosts): {len(keys)} idempotency keys each sent to both web hosts at once "
        f"({len(responses)} requests): {len(keys)} jobs, one 201 and one 200 with the same job per key "
        f"(created on {split}); each job ran once. With jobs of a few ms: {len(fast_keys) * 2} requests, "
        f"{fast_statuses[201]} x 201, {fast_statuses[200]} x 200, no 500; "
        f"{sum(1 for n in fast_jobs_per_key.values() if n > 1)} keys reused after their job had finished"
    )
