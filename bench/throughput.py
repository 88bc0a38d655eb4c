#!/usr/bin/env python
"""Throughput of the tracked job engine against bare Dramatiq, same broker, processes and threads.

Method (as in shared/notes/performance.md): N no-op messages are loaded first, then the workers
start; jobs/s is counted from the first completion to the last with a Redis INCR in the task.
Each configuration runs bare then tracked, in the same run, so the ratio is what counts.
It uses a PostgreSQL database and Redis key namespace of its own and removes both at the end.

    .venv/bin/python bench/throughput.py [--jobs 20000] [--configs 1x8,2x8]
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN", "dbname=postgres user=postgres host=127.0.0.1 port=5432")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
DB_NAME = f"bench_tp_{RUN_ID}"


def exit_on_sigterm() -> None:
    """A benchmark stopped with SIGTERM (e.g. by ``timeout``) still drops its database and workers."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql)
    conn.close()


LOG_DIR = ROOT / "var" / "bench-logs"


def start_worker(argv, env, name: str) -> subprocess.Popen:
    """A worker in its own process group; its output goes to var/bench-logs/NAME.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "wb")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def measure(redis_client, counter_key: str, total: int, timeout: float = 600) -> float:
    """Jobs per second from the first completion seen to the last."""
    deadline = time.monotonic() + timeout
    first_time = first_count = None
    while time.monotonic() < deadline:
        count = int(redis_client.get(counter_key) or 0)
        now = time.monotonic()
        if first_time is None and count > 0:
            first_time, first_count = now, count
        if count >= total:
            if now == first_time:
                return float("nan")
            return (count - first_count) / (now - first_time)
        time.sleep(0.02)
    raise SystemExit(f"timed out: {redis_client.get(counter_key)} of {total} jobs done; see {LOG_DIR}")


def base_env(namespace: str, counter_key: str) -> dict:
    return {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "DRAMATIQ_NAMESPACE": namespace,
        "BENCH_COUNTER_KEY": counter_key,
        "dramatiq_worker_timeout": "100",
        "LOG_LEVEL": "WARNING",
    }


def run_bare(total: int, processes: int, threads: int, redis_client) -> float:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    namespace, counter = f"bench-bare-{RUN_ID}-{processes}x{threads}", f"bench:{RUN_ID}:bare:{processes}x{threads}"
    broker = RedisBroker(url=REDIS_URL, namespace=namespace)
    for _ in range(total):
        broker.enqueue(dramatiq.Message(queue_name="default", actor_name="bench.noop", args=(), kwargs={}, options={}))
    dramatiq_bin = str(Path(sys.executable).parent / "dramatiq")
    proc = start_worker(
        [dramatiq_bin, "bench.bare_actors", "-p", str(processes), "-t", str(threads)],
        base_env(namespace, counter),
        f"bare-{processes}x{threads}",
    )
    try:
        return measure(redis_client, counter, total)
    finally:
        stop_worker(proc)
        cleanup_namespace(redis_client, namespace)


def run_tracked(total: int, processes: int, threads: int, redis_client) -> tuple[float, float, float]:
    import dramatiq
    from django.db import connection
    from django.db.models import Max, Min

    from jobs import services
    from jobs.models import Job, JobStatus

    namespace, counter = (
        f"bench-tracked-{RUN_ID}-{processes}x{threads}",
        f"bench:{RUN_ID}:tracked:{processes}x{threads}",
    )
    dramatiq.get_broker().namespace = namespace
    with connection.cursor() as cursor:  # a clean table per run: no dead tuples from the last one
        cursor.execute("TRUNCATE jobs_jobattempt, jobs_job CASCADE")  # also the bench DB's schedule links
        cursor.execute("ANALYZE jobs_job")
    submit_started = time.monotonic()
    for start in range(0, total, 5000):
        services.job_submit_many(actor_name="bench.noop", calls=[([], {})] * min(5000, total - start))
    submit_rate = total / (time.monotonic() - submit_started)
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == total, "not every job was published"
    env = {**base_env(namespace, counter), "JOBS_EXTRA_ACTOR_MODULES": "bench.tracked_actors"}
    proc = start_worker(
        [sys.executable, "manage.py", "run_worker", "-p", str(processes), "-t", str(threads)],
        env,
        f"tracked-{processes}x{threads}",
    )
    try:
        rate = measure(redis_client, counter, total)
        deadline = time.monotonic() + 60
        while Job.objects.filter(status=JobStatus.SUCCEEDED).count() < total:
            if time.monotonic() > deadline:
                raise SystemExit("tracked jobs did not all reach succeeded")
            time.sleep(0.2)
        span = Job.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
        db_rate = total / max((span["last"] - span["first"]).total_seconds(), 1e-9)
        return rate, db_rate, submit_rate
    finally:
        stop_worker(proc)
        cleanup_namespace(redis_client, namespace)


def cleanup_namespace(redis_client, namespace: str) -> None:
    keys = list(redis_client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        redis_client.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--configs", default="1x8,2x8", help="processes x threads, comma-separated")
    args = parser.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
    exit_on_sigterm()

    pg_admin(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(base_env(f"bench-{RUN_ID}", "bench:unused"))
    os.environ["JOBS_EXTRA_ACTOR_MODULES"] = "bench.tracked_actors"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connections

    redis_client = redis.Redis.from_url(REDIS_URL)
    try:
        call_command("migrate", verbosity=0)
        print(f"{args.jobs} no-op jobs per run; PostgreSQL + Redis on loopback; {os.cpu_count()} cores")
        print(
            f"{'config':<8} {'bare jobs/s':>12} {'tracked jobs/s':>15} {'ratio':>7} {'(DB span)':>10} {'submit/s':>9}"
        )
        for processes, threads in configs:
            bare = run_bare(args.jobs, processes, threads, redis_client)
            tracked, db_rate, submit_rate = run_tracked(args.jobs, processes, threads, redis_client)
            ratio = tracked / bare
            row = f"{processes}x{threads:<6} {bare:>12.0f} {tracked:>15.0f} {ratio:>7.2f} {db_rate:>10.0f}"
            print(f"{row} {submit_rate:>9.0f}", flush=True)
        for key in redis_client.scan_iter(match=f"bench:{RUN_ID}:*"):
            redis_client.delete(key)
    finally:
        connections.close_all()
        pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
