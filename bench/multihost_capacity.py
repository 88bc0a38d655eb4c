#!/usr/bin/env python
"""What one job costs the shared PostgreSQL and Redis, measured on the multi-host test bed.

For 1, 2 and 3 worker hosts (each ``run_worker -p 1 -t 8``, production engine timings) on the bed
of tests/multihost (network namespaces, private PostgreSQL with pg_stat_statements, private Redis):
1. idle: the hosts run with nothing to do for ``--idle`` seconds: the background cost per host per
   second (heartbeats, dispatcher, recovery pass, Redis polling);
2. load: ``--jobs`` no-op jobs are submitted (job_submit_many, as the API's bulk path) and run;
   jobs/s from the first claim to the last success (database clock), and per job, the idle cost of
   the window taken off: statements (pg_stat_statements), transactions and rows written
   (pg_stat_database), WAL bytes (pg_stat_wal), Redis commands (INFO commandstats), and CPU time
   of PostgreSQL, of Redis and of the worker hosts' processes.
The baseline is one worker host in the same run: the ratio column is jobs/s ÷ that.
Needs root (network namespaces), like ``make multihost``. docs/capacity.md reads these figures.

    .venv/bin/python bench/multihost_capacity.py [--jobs 6000] [--hosts 1,2,3] [--idle 15]
"""

import argparse
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
OBSERVER = "/* capacity-observer */ "
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pids, *, with_children: bool) -> float:
    """CPU time of processes (and of their children already reaped), from /proc."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        if with_children:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
        total += ticks / CLOCK_TICKS
    return total


class Counters:
    """One snapshot of everything counted, as a flat dict of numbers."""

    def __init__(self, bed, database: str, hosts):
        from tests.multihost import netns

        self.values: dict[str, float] = {}
        pg = bed.postgres
        statements = pg.query(
            database,
            OBSERVER + "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = %s AND query NOT LIKE %s",
            [database, "%capacity-observer%"],
        )
        self.statements = Counter()
        for query, calls in statements:
            self.statements[" ".join(query.split())[:110]] += calls
        self.values["statements"] = sum(self.statements.values())
        (commits, rollbacks, inserted, updated, deleted) = pg.query(
            database,
            OBSERVER + "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted "
            "FROM pg_stat_database WHERE datname = %s",
            [database],
        )[0]
        self.values.update(transactions=commits + rollbacks, rows_written=inserted + updated + deleted)
        self.values["wal_bytes"] = float(pg.query(database, OBSERVER + "SELECT wal_bytes FROM pg_stat_wal")[0][0])
        info = bed.redis.client().info("commandstats")
        self.redis = Counter(
            {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in info.items() if "info" not in name}
        )
        self.values["redis_commands"] = sum(self.redis.values())
        cpu = bed.redis.client().info("cpu")
        self.values["redis_cpu"] = cpu["used_cpu_user"] + cpu["used_cpu_sys"]
        services = netns.namespace_pids(bed.network.services)
        postgres = [pid for pid in services if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"]
        self.values["postgres_cpu"] = process_cpu_seconds(postgres, with_children=True)
        worker_pids = [pid for label in hosts for pid in netns.namespace_pids(bed.network.hosts[label])]
        self.values["worker_cpu"] = process_cpu_seconds(worker_pids, with_children=True)
        self.at = time.monotonic()

    def minus(self, other) -> dict[str, float]:
        return {key: self.values[key] - other.values[key] for key in self.values}


def settle() -> None:
    time.sleep(1.5)  # pg_stat_database is flushed by backends about once a second


def measure_idle(sc, hosts, seconds: float) -> tuple[dict, Counters]:
    """Background cost of the running hosts per second, and the last snapshot."""
    sc.bed.postgres.query(sc.database, OBSERVER + "SELECT pg_stat_statements_reset()")
    time.sleep(3)
    start = Counters(sc.bed, sc.database, hosts)
    time.sleep(seconds)
    end = Counters(sc.bed, sc.database, hosts)
    return {key: value / (end.at - start.at) for key, value in end.minus(start).items()}, end


def measure(bed, hosts, *, jobs: int, idle_seconds: float) -> dict:
    from tests.multihost.services import wait_until

    with bed.scenario(f"capacity{len(hosts)}") as sc:
        for label in hosts:
            sc.hosts[label].run_worker(processes=1, threads=8)
        sc.wait_workers(hosts, timeout=120)
        idle, before = measure_idle(sc, hosts, idle_seconds)
        sc.hosts[hosts[0]].agent("submit", {"actor": "mh.noop", "count": jobs, "chunk": 1000}, timeout=600)
        done = OBSERVER + "SELECT count(*) FROM jobs_job WHERE status = 'succeeded'"
        wait_until(lambda: sc.scalar(done) >= jobs, timeout=1200, what=f"{jobs} jobs", interval=1.0)
        settle()
        after = Counters(bed, sc.database, hosts)
        span = sc.scalar(OBSERVER + "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM jobs_job")
        republished = sc.scalar(OBSERVER + "SELECT count(*) FROM jobs_job WHERE dispatch_token > 0")
        window, delta = after.at - before.at, after.minus(before)
        per_job = {key: (delta[key] - idle[key] * window) / jobs for key in delta}
        top_statements = (after.statements - before.statements).most_common(8)
        top_redis = (after.redis - before.redis).most_common(8)
    return {
        "hosts": len(hosts),
        "jobs_per_second": jobs / float(span),
        "republished": republished,
        "idle_per_host": {key: value / len(hosts) for key, value in idle.items()},
        "per_job": per_job,
        "top_statements": [(query, calls / jobs) for query, calls in top_statements],
        "top_redis": [(name, calls / jobs) for name, calls in top_redis],
    }


def idle_with_worker_timeout(bed, timeout_ms: int, seconds: float) -> dict:
    """One idle worker host whose Dramatiq consumers back off to ``timeout_ms`` between empty polls."""
    with bed.scenario(f"idle{timeout_ms}", env={"JOBS_WORKER_TIMEOUT_MS": str(timeout_ms)}) as sc:
        sc.hosts["h1"].run_worker(processes=1, threads=8)
        sc.wait_workers(["h1"], timeout=120)
        idle, _ = measure_idle(sc, ["h1"], seconds)
    return idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=6000)
    parser.add_argument("--hosts", default="1,2,3", help="numbers of worker hosts to measure, comma-separated")
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idle measurement per run")
    parser.add_argument("--idle-timeouts", default="100,1000", help="JOBS_WORKER_TIMEOUT_MS values to compare idle")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # the bed is torn down
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from tests.multihost.bed import TestBed, unavailable_reason

    reason = unavailable_reason()
    if reason:
        sys.exit(f"!!! the multi-host bed cannot run here: {reason} !!!")
    counts = [int(n) for n in args.hosts.split(",")]
    bed = TestBed(hosts=tuple(f"h{n}" for n in range(1, max(counts) + 1)), engine_env={})
    results = []
    try:
        bed.start()
        print(f"{args.jobs} no-op jobs per run; worker hosts of 1 process x 8 threads, production engine timings;")
        print(f"PostgreSQL, Redis and every host share this machine's {os.cpu_count()} cores")
        print(
            f"{'hosts':>5} {'jobs/s':>7} {'ratio':>6} {'stmts':>6} {'xacts':>6} {'rows w':>7} {'WAL B':>6} "
            f"{'redis':>6} {'PG ms':>6} {'Rd ms':>6} {'wk ms':>6} {'late':>5}  (per job; idle cost taken off)"
        )
        for count in counts:
            result = measure(bed, [f"h{n}" for n in range(1, count + 1)], jobs=args.jobs, idle_seconds=args.idle)
            results.append(result)
            p, ratio = result["per_job"], result["jobs_per_second"] / results[0]["jobs_per_second"]
            print(
                f"{count:>5} {result['jobs_per_second']:>7.0f} {ratio:>6.2f} {p['statements']:>6.2f} "
                f"{p['transactions']:>6.2f} {p['rows_written']:>7.2f} {p['wal_bytes']:>6.0f} "
                f"{p['redis_commands']:>6.2f} {1000 * p['postgres_cpu']:>6.3f} {1000 * p['redis_cpu']:>6.3f} "
                f"{1000 * p['worker_cpu']:>6.3f} {result['republished']:>5}",
                flush=True,
            )
        print("(ratio: jobs/s ÷ one worker host in this run; late: jobs republished after a lost message)")
        idle = results[-1]["idle_per_host"]
        print(
            f"idle, per worker host per second: {idle['statements']:.1f} statements, {idle['transactions']:.1f} "
            f"transactions, {idle['rows_written']:.1f} rows written, {idle['redis_commands']:.0f} Redis commands; "
            f"CPU: PostgreSQL {1000 * idle['postgres_cpu']:.1f} ms, Redis {1000 * idle['redis_cpu']:.1f} ms"
        )
        for timeout_ms in [int(t) for t in args.idle_timeouts.split(",") if t]:
            quiet = idle_with_worker_timeout(bed, timeout_ms, args.idle)
            print(
                f"idle host with JOBS_WORKER_TIMEOUT_MS={timeout_ms}: {quiet['redis_commands']:.0f} Redis commands/s, "
                f"Redis CPU {1000 * quiet['redis_cpu']:.1f} ms/s",
                flush=True,
            )
        print("statements per job (largest run):")
        for query, per in results[-1]["top_statements"]:
            print(f"  {per:5.2f}  {query}")
        print("Redis commands per job (largest run, idle polling included):")
        print("  " + ", ".join(f"{name} {per:.2f}" for name, per in results[-1]["top_redis"]))
    finally:
        bed.close()


if __name__ == "__main__":
    main()
