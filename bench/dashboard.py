"""Dashboard latency at a million jobs: p50/p95 of each page, through Django's test client.

    .venv/bin/python bench/dashboard.py [--rows 1000000] [--runs 40] [--keep]

Creates a PostgreSQL database of its own (bench_dash_<pid>), migrates it, loads the rows with one
INSERT … SELECT generate_series (30 days of history, the default retention), then times each page
as a signed-in staff user and drops the database. Needs PostgreSQL (BENCH_PG_URL, default
postgres://postgres@127.0.0.1:5432) and Redis (REDIS_URL) as for the rest of the platform.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg2

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

BUDGET_MS = 300.0
ACTORS = [
    "echo",
    "noop",
    "countdown",
    "reports.store_uptime",
    "scans.run",
    "documents.extract",
    "t.record",
    "jobs.prune",
]
QUEUES = ["default", "default", "default", "reports", "scans", "documents", "default", "maintenance"]
ERRORS = ["KeyError", "TimeoutError", "ValueError", "ConnectionError"]

LOAD_SQL = """
INSERT INTO jobs_job (
    id, actor_name, queue_name, priority, args, kwargs, status, status_changed_at, dispatch_token,
    attempts, max_attempts, retry_cycle_start, created_at, eta, enqueued_at, started_at, finished_at,
    next_retry_at, cancel_requested_at, worker_id, heartbeat_at, progress, progress_message, result,
    error_type, error_message, idempotency_key, parent_id, message_id
)
SELECT
    gen_random_uuid(),
    (%(actors)s::text[])[1 + i %% 8],
    (%(queues)s::text[])[1 + i %% 8],
    0, '[1, "x"]'::jsonb, '{}'::jsonb,
    status,
    created + interval '3 seconds',
    1,
    CASE WHEN status = 'failed' THEN 4 ELSE 1 END, 4, 0,
    created, NULL,
    created + interval '100 milliseconds',
    CASE WHEN status IN ('succeeded', 'failed', 'running')
        THEN created + (0.1 + random() * 2) * interval '1 second' END,
    CASE WHEN status IN ('succeeded', 'failed', 'cancelled')
        THEN created + (2.2 + random() * 5) * interval '1 second' END,
    NULL, NULL, '', NULL,
    CASE WHEN status = 'succeeded' THEN 100 ELSE 0 END, '',
    CASE WHEN status = 'succeeded' THEN '{"ok": true}'::jsonb END,
    CASE WHEN status = 'failed' THEN (%(errors)s::text[])[1 + (i / 7) %% 4] ELSE '' END,
    CASE WHEN status = 'failed' THEN 'something went wrong in row ' || i ELSE '' END,
    NULL, NULL, ''
FROM (
    SELECT
        i,
        now() - (i::float8 * %(span_seconds)s / %(rows)s) * interval '1 second' AS created,
        CASE
            WHEN i < 200 THEN (ARRAY['queued', 'running', 'pending', 'retrying'])[1 + i %% 4]
            WHEN i %% 20 = 3 THEN 'failed'
            WHEN i %% 50 = 7 THEN 'cancelled'
            ELSE 'succeeded'
        END AS status
    FROM generate_series(0, %(rows)s - 1) AS i
) AS source
"""


def admin_sql(pg_url: str, sql: str) -> None:
    connection = psycopg2.connect(f"{pg_url}/postgres")
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
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
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    options = parser.parse_args()

    pg_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    name = f"bench_dash_{os.getpid()}"
    admin_sql(pg_url, f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = f"{pg_url}/{name}"
    os.environ.setdefault("DRAMATIQ_NAMESPACE", f"bench-dash-{os.getpid()}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        return run(options, name)
    finally:
        if not options.keep:
            from django.db import connections

            connections.close_all()
            admin_sql(pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            print(f"dropped database {name}")


def run(options, name: str) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from jobs.forms import encode_cursor
    from jobs.models import Job, JobAttempt

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            LOAD_SQL,
            {"actors": ACTORS, "queues": QUEUES, "errors": ERRORS, "rows": options.rows, "span_seconds": 30 * 86400},
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE jobs_job")
    print(f"database {name}: loaded {Job.objects.count():,} jobs in {time.perf_counter() - started:.1f} s")

    # A detail page with a parent, three failed attempts with tracebacks and two children.
    dead = Job.objects.filter(status="failed").order_by("-created_at")[100]
    Job.objects.filter(pk__in=Job.objects.filter(status="succeeded").values("pk")[:2]).update(parent=dead)
    Job.objects.filter(pk=dead.pk).update(parent=Job.objects.filter(status="succeeded").order_by("created_at")[0])
    for number in (1, 2, 3):
        JobAttempt.objects.create(
            job=dead,
            number=number,
            outcome="failed",
            finished_at=timezone.now(),
            error_type="KeyError",
            error_message="missing",
            traceback="Traceback (most recent call last):\n" * 20,
        )
    deep_offset = int(options.rows * 0.9)
    deep = Job.objects.order_by("-created_at", "-id").values_list("created_at", "id")[deep_offset]

    user = get_user_model().objects.create_user("bench", password="bench-pw-123", is_staff=True)
    client = Client()
    client.force_login(user)
    hour_ago = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    pages = [
        ("overview", "/"),
        ("job list, first page", "/jobs/"),
        (f"job list, deep page (row {deep_offset:,})", f"/jobs/?after={encode_cursor(deep)}"),
        ("job list, filtered (failed, one actor)", "/jobs/?status=failed&actor=reports.store_uptime"),
        ("job list, filtered (one queue)", "/jobs/?queue=reports"),
        ("job detail", f"/jobs/{dead.pk}/"),
        ("dead letters", "/dead-letters/"),
        ("job list, last hour (time filter)", f"/jobs/?created_after={hour_ago}"),
        ("job list, filter matching nothing", "/jobs/?status=failed&actor=countdown"),
        ("job list, search (full scan)", "/jobs/?search=row+12345"),
        ("overview, live region", "/?partial=1"),
        ("job list, live region", "/jobs/?partial=1"),
    ]
    print(f"\n{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}  (n={options.runs})")
    failures = 0
    for label, url in pages:
        for _ in range(3):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        timings = []
        for _ in range(options.runs):
            begin = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - begin) * 1000)
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        p95 = percentile(timings, 0.95)
        verdict = "" if p95 < BUDGET_MS else "  OVER BUDGET"
        failures += bool(verdict) and label in {p[0] for p in pages[:6]}
        print(
            f"{label:44} {statistics.median(timings):8.1f} {p95:8.1f} {max(timings):8.1f} {len(captured):8d}{verdict}"
        )
    print("(the first six pages carry the budget; the others are for information)")
    print(f"\nbudget: p95 < {BUDGET_MS:.0f} ms for the overview, the job list (first, deep, filtered) and a job detail")
    print("result: " + ("PASS" if not failures else f"FAIL ({failures} page(s) over budget)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
