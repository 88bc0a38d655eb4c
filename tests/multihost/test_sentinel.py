"""Redis behind Sentinel: the master dies mid-run, Sentinel promotes the replica, the platform follows.

Two private Redis servers (a master and its replica) and a private Sentinel in the bed's services
namespace; worker hosts and the submitter know only the Sentinel (a redis+sentinel:// URL).
"""

import time

import pytest

from tests.multihost.checks import per_job
from tests.multihost.services import RedisServer, Sentinel, wait_until

pytestmark = pytest.mark.multihost
MASTER_PORT, REPLICA_PORT, SENTINEL_PORT = 6380, 6381, 26379


@pytest.fixture
def sentinel_redis(bed):
    namespace = bed.network.services
    common = dict(root=bed.root, namespace=namespace, address="10.77.0.1")
    master = RedisServer(name="redis-a", port=MASTER_PORT, **common)
    replica = RedisServer(
        name="redis-b", port=REPLICA_PORT, args=["--replicaof", "10.77.0.1", str(MASTER_PORT)], **common
    )
    sentinel = Sentinel(
        root=bed.root,
        namespace=namespace,
        address="10.77.0.1",
        port=SENTINEL_PORT,
        master="mymaster",
        master_port=MASTER_PORT,
    )
    started = []
    try:
        for server in (master, replica):
            started.append(server.start())
        wait_until(
            lambda: replica.client().info("replication").get("master_link_status") == "up",
            timeout=20,
            what="the replica to sync",
        )
        started.append(sentinel.start())
        wait_until(
            lambda: sentinel.client().execute_command("SENTINEL", "replicas", "mymaster"),
            timeout=20,
            what="Sentinel to discover the replica",
        )
        yield master, replica, sentinel
    finally:
        for server in reversed(started):
            server.stop()


def test_a_redis_failover_under_sentinel_loses_no_job(bed, sentinel_redis, report):
    master, replica, sentinel = sentinel_redis
    env = {"REDIS_URL": f"redis+sentinel://10.77.0.1:{SENTINEL_PORT}/mymaster/0"}
    first, second = 300, 300
    with bed.scenario("sentinel", env=env) as sc:
        for label in ("h1", "h2"):
            sc.hosts[label].run_worker(processes=1, threads=4)
        sc.wait_workers(("h1", "h2"))
        ids = sc.hosts["h3"].agent("submit", {"count": first, "kwargs": {"seconds": 0.05}})["ids"]
        sc.wait_for(lambda: sc.status_counts().get("succeeded", 0) >= first // 3, timeout=60, what="a third to run")

        killed_at = time.time()
        master.kill()  # SIGKILL: no goodbye to the replica or the clients
        sc.wait_for(
            lambda: sentinel.master_address() == ("10.77.0.1", REPLICA_PORT), timeout=30, what="Sentinel to promote"
        )
        promoted_at = time.time()
        ids += sc.hosts["h3"].agent("submit", {"count": second, "kwargs": {"seconds": 0.05}})["ids"]
        counts = sc.wait_all_finished(first + second, timeout=180)
        events = sc.events()
        replica_role = replica.client().execute_command("ROLE")[0]
        queued_on_new_master = replica.client().llen("mh:default")

        assert counts == {"succeeded": first + second}, counts
        starts = per_job(events, "start")
        assert set(starts) == set(ids) and set(starts.values()) == {1}, "a job ran twice or never"
        assert replica_role == b"master" and queued_on_new_master == 0
        workers_alive = sc.ready_workers()
        assert workers_alive.get("mh-h1") and workers_alive.get("mh-h2"), "a worker host died with the master"
        after = sum(1 for e in events if e.kind == "return" and e.at > promoted_at)

    report(
        f"Sentinel failover: master SIGKILLed mid-run, replica promoted after {promoted_at - killed_at:.1f} s; "
        f"{first + second} jobs ({after} finished after the promotion, {second} submitted through the new master) "
        "all succeeded, each ran once; the worker hosts followed without a restart"
    )
