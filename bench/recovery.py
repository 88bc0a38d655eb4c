#!/usr/bin/env python
"""Time from a worker process's SIGKILL to its job back in the queue, and to its next start.

A worker host runs with the production defaults (``run_worker -p 2 -t 4``). Each round submits a
long job, waits for it to run, SIGKILLs the worker process running it, and times two things from
the kill: the job's row leaving ``running`` with a new dispatch token (back in the queue: the
supervisor released it and published it at the head of its queue), and the job's next start (the
other process has free capacity). Uses a PostgreSQL database and Redis namespace of its own.

    .venv/bin/python bench/recovery.py [--kills 20]
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.throughput import LOG_DIR, exit_on_sigterm, pg_admin  # noqa: E402

RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
DB_NAME = f"bench_rec_{RUN_ID}"


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}; see {LOG_DIR}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    exit_on_sigterm()
    pg_admin(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "DRAMATIQ_NAMESPACE": f"bench-rec-{RUN_ID}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    import dramatiq
    import psutil
    from django.core.management import call_command
    from django.db import connections

    from jobs import services
    from jobs.models import Job, Worker

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    supervisor = None
    requeue, rerun = [], []
    try:
        call_command("migrate", verbosity=0)
        supervisor = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "-p", "2", "-t", "4"],
            cwd=ROOT,
            stdout=open(LOG_DIR / "recovery-worker.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def both_ready():
            return Worker.objects.filter(ready_at__isnull=False, stopped_at__isnull=True).count() >= 2

        wait(both_ready, 60, "workers")
        print(f"SIGKILL of the worker process running a job, {args.kills} times (production defaults, 2 x 4)")
        for _ in range(args.kills):
            job = services.submit("countdown", 60)
            row = wait(lambda pk=job.pk: Job.objects.filter(pk=pk, status="running").first(), 60, "the job to run")
            pid = Worker.objects.get(pk=row.worker_id).pid
            time.sleep(0.3)
            psutil.Process(pid).send_signal(signal.SIGKILL)
            killed = time.monotonic()
            released = Job.objects.filter(pk=job.pk, dispatch_token__gt=row.dispatch_token).exclude(status="running")
            restarted = Job.objects.filter(pk=job.pk, status="running", attempts__gt=row.attempts)
            wait(lambda q=released, r=restarted: q.exists() or r.exists(), 60, "the job back in the queue")
            requeue.append(time.monotonic() - killed)
            wait(restarted.exists, 60, "the job's next start")
            rerun.append(time.monotonic() - killed)
            services.job_cancel(job_id=job.pk)
            # Both processes up again before the next kill, as "free capacity" requires.
            wait(both_ready, 60, "a new process")
        for name, values in (("kill -> back in the queue", requeue), ("kill -> next start", rerun)):
            print(
                f"{name:<26} p50 {statistics.median(values):6.2f} s   p99 {percentile(values, 0.99):6.2f} s"
                f"   max {max(values):6.2f} s   ({len(values)} kills)"
            )
    finally:
        if supervisor is not None:
            os.killpg(supervisor.pid, signal.SIGTERM)
            supervisor.wait(60)
        client = dramatiq.get_broker().client
        for key in client.scan_iter(match=f"bench-rec-{RUN_ID}*"):
            client.delete(key)
        connections.close_all()
        pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
