"""Alert evaluation at a million jobs: p50/p95 of one evaluation of the default rules, of the
Alerts page and of the alerts API.

    .venv/bin/python bench/alerts.py [--rows 1000000] [--runs 20] [--keep]

Creates a PostgreSQL database of its own (bench_alerts_<pid>), migrates it (the default rules
come with it), loads 30 days of jobs with one INSERT … SELECT generate_series — finished ones, a
backlog of queued ones, a few running for hours — and times ``alerts_evaluate`` (which opens and
then keeps alerts: the backlog is old, the running jobs are stuck, no worker is alive) and the
pages. Needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432) and Redis.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg2

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

ACTORS = ["echo", "noop", "countdown", "demo.flaky", "demo.always_fails", "jobs.prune", "t.record", "scans.run"]
QUEUES = ["default", "default", "default", "reports", "scans", "documents", "default", "maintenance"]

LOAD_SQL = """
INSERT INTO jobs_job (
    id, actor_name, queue_name, priority, args, kwargs, status, status_changed_at, dispatch_token, attempts,
    max_attempts, retry_cycle_start, uncharged_attempts, crash_suspect, created_at, available_at, enqueued_at,
    started_at, finished_at, worker_id, progress, progress_message, error_type, error_message
)
SELECT
    gen_random_uuid(), (%(actors)s::text[])[1 + i %% 8], (%(queues)s::text[])[1 + i %% 8], 0,
    '[1, "x"]'::jsonb, '{}'::jsonb, status, created, 1, 1, 4, 0, 0, false, created, created,
    created + interval '100 milliseconds',
    CASE WHEN status IN ('succeeded', 'failed', 'running') THEN created + interval '1 second' END,
    CASE WHEN status IN ('succeeded', 'failed') THEN created + interval '3 seconds' END,
    '', 0, '', CASE WHEN status = 'failed' THEN 'KeyError' ELSE '' END, ''
FROM (
    SELECT i,
        now() - (i::float / %(rows)s) * %(span_seconds)s * interval '1 second' AS created,
        CASE
            WHEN i %% 1000 = 0 THEN 'queued'
            WHEN i %% 100000 = 1 THEN 'running'
            WHEN i %% 10 = 3 THEN 'failed'
            ELSE 'succeeded'
        END AS status
    FROM generate_series(0, %(rows)s - 1) AS i
) AS source
"""


def admin_sql(pg_url: str, sql: str) -> None:
    connection = psycopg2.connect(f"{pg_url}/postgres")
    connection.autocommit = True
    try:
        connection.cursor().execute(sql)
    finally:
        connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    options = parser.parse_args()

    pg_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    name = f"bench_alerts_{os.getpid()}"
    admin_sql(pg_url, f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = f"{pg_url}/{name}"
    os.environ.setdefault("DRAMATIQ_NAMESPACE", f"bench-alerts-{os.getpid()}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        return run(options, name)
    finally:
        if not options.keep:
            from django.db import connections

            connections.close_all()
            admin_sql(pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            print(f"dropped database {name}")


def timed(fn, runs: int) -> list[float]:
    for _ in range(2):
        fn()
    timings = []
    for _ in range(runs):
        begin = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - begin) * 1000)
    return timings


def run(options, name: str) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from jobs.alerts import services
    from jobs.alerts.models import Alert, AlertRule
    from jobs.models import Job

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(LOAD_SQL, {"actors": ACTORS, "queues": QUEUES, "rows": options.rows, "span_seconds": 30 * 86400})
        cursor.execute("VACUUM ANALYZE jobs_job")
    print(f"database {name}: loaded {Job.objects.count():,} jobs in {time.perf_counter() - started:.1f} s")
    AlertRule.objects.update(email_recipients=["ops@example.com"])

    first = services.alerts_evaluate()
    print(f"first evaluation: {first}")
    client = Client()
    client.force_login(get_user_model().objects.create_user("bench", password="bench-pw-123", is_staff=True))
    cases = [
        ("alerts_evaluate (5 default rules)", services.alerts_evaluate),
        ("Alerts page", lambda: client.get("/alerts/")),
        ("GET /api/v1/alerts", lambda: client.get("/api/v1/alerts")),
        ("GET /api/v1/alert-rules", lambda: client.get("/api/v1/alert-rules")),
    ]
    print(f"\n{'operation':40} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  (n={options.runs})")
    for label, fn in cases:
        timings = timed(fn, options.runs)
        print(f"{label:40} {statistics.median(timings):8.1f} {percentile(timings, 0.95):8.1f} {max(timings):8.1f}")
    print(f"\nopen alerts: {Alert.objects.filter(status='open').count()} (no duplicates after {options.runs + 3} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
