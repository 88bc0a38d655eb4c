#!/usr/bin/env python
"""Time from a worker's SIGKILL to its job running again, with the production defaults.

A worker runs `countdown`; its pool child is SIGKILLed mid-job; `run_worker` restarts the pool,
the reaper sees the job's heartbeat go stale (JOBS_HEARTBEAT_TIMEOUT, 12 s) and it runs again.
Uses a PostgreSQL database and Redis namespace of its own.

    .venv/bin/python bench/recovery.py [--runs 3]
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
from bench.throughput import LOG_DIR, exit_on_sigterm, pg_admin  # noqa: E402

RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
DB_NAME = f"bench_rec_{RUN_ID}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
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
    from jobs.models import Job

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    worker = None
    try:
        call_command("migrate", verbosity=0)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "-p", "1", "-t", "4"],
            cwd=ROOT,
            stdout=open(LOG_DIR / "recovery-worker.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        print("SIGKILL of the worker mid-job -> job running again (production defaults)")
        for run in range(args.runs):
            job = services.submit("countdown", 60)
            while Job.objects.get(pk=job.pk).status != "running":
                time.sleep(0.05)
            time.sleep(1)
            children = [p for p in psutil.Process(worker.pid).children(recursive=True) if p.parent().pid != worker.pid]
            children[0].send_signal(signal.SIGKILL)
            killed = time.monotonic()
            while (row := Job.objects.get(pk=job.pk)).status != "running" or row.attempts != 2:
                if time.monotonic() - killed > 120 or row.status in ("failed", "cancelled"):
                    raise SystemExit(f"job {job.pk} did not run again: {row.status}, attempt {row.attempts}")
                time.sleep(0.05)
            print(f"run {run + 1}: running again after {time.monotonic() - killed:.1f} s (attempt 2 of job {job.pk})")
            services.job_cancel(job_id=job.pk)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        client = dramatiq.get_broker().client
        for key in client.scan_iter(match=f"bench-rec-{RUN_ID}*"):
            client.delete(key)
        connections.close_all()
        pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
