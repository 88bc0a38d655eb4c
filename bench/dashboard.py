"""Dashboard latency at a million jobs: p50/p95 of each page, through Django's test client.

    .venv/bin/python bench/dashboard.py                 # 100,000 jobs, 1,000,000 rollup rows
    .venv/bin/python bench/dashboard.py --full          # 1,000,000 jobs, 10,000,000 rollup rows
    .venv/bin/python bench/dashboard.py [--rows N] [--rollups N] [--runs 40] [--keep]

Creates a PostgreSQL database of its own (bench_dash_<pid>), migrates it, loads the jobs with one
INSERT … SELECT generate_series (30 days of history, the default retention; args, kwargs and
results that differ per job, for the search), and the metrics rollups the same way (minute rows for
a day, hour rows for 90 days, over enough queues and actors to make --rollups rows), then times
each page and API as a signed-in staff user and drops the database. For the search pages it also
prints which indexes the planner chose. Pages the code under test lacks (a 404: an older checkout)
are left out. Needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432) and Redis
(REDIS_URL) as for the rest of the platform.
"""

import argparse
import os
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg2

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

BUDGET_MS = 100.0
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
REGIONS = ["eu-west", "eu-north", "us-east", "us-west", "ap-south"]

LOAD_SQL = """
INSERT INTO jobs_job (
    id, actor_name, queue_name, priority, args, kwargs, status, status_changed_at, dispatch_token,
    attempts, max_attempts, uncharged_attempts, retry_cycle_start, crash_suspect, created_at, eta,
    available_at, enqueued_at, started_at, finished_at, cancel_requested_at, worker_id, progress,
    progress_message, result, error_type, error_message, idempotency_key, parent_id
)
SELECT
    gen_random_uuid(),
    (%(actors)s::text[])[1 + i %% 8],
    (%(queues)s::text[])[1 + i %% 8],
    0,
    jsonb_build_array(i, 'customer-' || (i %% 50000)),
    jsonb_build_object('order_id', i, 'region', (%(regions)s::text[])[1 + i %% 5], 'retry', i %% 3 = 0),
    status,
    created + interval '3 seconds',
    1,
    CASE WHEN status = 'failed' THEN 4 ELSE 1 END, 4, 0, 0, false,
    created, NULL, created,
    created + interval '100 milliseconds',
    CASE WHEN status IN ('succeeded', 'failed', 'running')
        THEN created + (0.1 + random() * 2) * interval '1 second' END,
    CASE WHEN status IN ('succeeded', 'failed', 'cancelled')
        THEN created + (2.2 + random() * 5) * interval '1 second' END,
    NULL, '',
    CASE WHEN status = 'succeeded' THEN 100 ELSE 0 END, '',
    CASE WHEN status = 'succeeded' THEN jsonb_build_object('ok', true, 'invoice', 'INV-' || i) END,
    CASE WHEN status = 'failed' THEN (%(errors)s::text[])[1 + (i / 7) %% 4] ELSE '' END,
    CASE WHEN status = 'failed' THEN 'something went wrong in row ' || i ELSE '' END,
    NULL, NULL
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

# Rollup rows as the writer makes them: per (queue, actor) pair, per queue, per actor and for all,
# per minute for a day and per hour for 90 days. Each bench actor runs on one of ROLLUP_QUEUES.
ROLLUP_QUEUES = 20
ROLLUP_BUCKETS = 1440 + 2160
ROLLUP_SQL = """
WITH series AS (
    SELECT 'q' || (a %% %(queues)s) AS queue_name, 'bench.actor_' || a AS actor_name, a
    FROM generate_series(0, %(actors)s - 1) a
    UNION ALL SELECT 'q' || q, '', q FROM generate_series(0, %(queues)s - 1) q
    UNION ALL SELECT '', 'bench.actor_' || a, a FROM generate_series(0, %(actors)s - 1) a
    UNION ALL SELECT '', '', 0
), buckets AS (
    SELECT 60 AS resolution, date_trunc('minute', now()) - k * interval '1 minute' AS bucket, k
    FROM generate_series(1, 1440) k
    UNION ALL
    SELECT 3600, date_trunc('hour', now()) - k * interval '1 hour', k FROM generate_series(1, 2160) k
)
INSERT INTO jobs_metricrollup (resolution, bucket, queue_name, actor_name, succeeded, failed, wait_histogram,
    run_histogram)
SELECT b.resolution, b.bucket, s.queue_name, s.actor_name, (s.a * 7 + b.k) %% 50, (s.a + b.k) %% 3,
    (ARRAY['{"14": 3, "15": 9, "17": 2}', '{"13": 1, "16": 12}', '{"15": 4, "22": 1}', '{"14": 30}'])
        [1 + (s.a + b.k) %% 4]::jsonb,
    (ARRAY['{"22": 5, "24": 8, "25": 1}', '{"25": 2, "26": 6, "31": 1}', '{"20": 9}', '{"24": 3, "33": 1}'])
        [1 + (s.a + b.k) %% 4]::jsonb
FROM series s CROSS JOIN buckets b
ORDER BY b.resolution, s.queue_name, s.actor_name, b.bucket
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
    parser.add_argument("--rows", type=int, default=100_000, help="jobs to load (default 100,000)")
    parser.add_argument("--rollups", type=int, default=1_000_000, help="metrics rollup rows (default 1,000,000)")
    parser.add_argument("--full", action="store_true", help="the issue's size: 1,000,000 jobs, 10,000,000 rollups")
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--reuse", metavar="DATABASE", help="time the pages of a database kept by --keep")
    options = parser.parse_args()
    if options.full:
        options.rows, options.rollups = 1_000_000, 10_000_000

    pg_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    name = options.reuse or f"bench_dash_{os.getpid()}"
    if not options.reuse:
        admin_sql(pg_url, f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = f"{pg_url}/{name}"
    os.environ.setdefault("DRAMATIQ_NAMESPACE", f"bench-dash-{os.getpid()}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        return run(options, name)
    finally:
        if not options.keep and not options.reuse:
            from django.db import connections

            connections.close_all()
            admin_sql(pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            print(f"dropped database {name}")


def table_exists(connection, table: str) -> bool:
    return table in connection.introspection.table_names()


def load_without_indexes(connection, tables: list[str], sql: str, params: dict) -> None:
    """Run the loading ``sql`` with the plain indexes of ``tables`` dropped (the table it loads, and
    those its triggers write: the jobs' search entries), then build them again (bulk builds are
    several times faster than a million index insertions, GIN above all)."""
    tables = [table for table in tables if table_exists(connection, table)]
    with connection.cursor() as cursor:
        indexes = []
        for table in tables:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
                " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            indexes += cursor.fetchall()
        for index_name, _ in indexes:
            cursor.execute(f'DROP INDEX "{index_name}"')
        cursor.execute(sql, params)
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


def load(options, connection) -> None:
    from jobs.models import Job

    started = time.perf_counter()
    params = {
        "actors": ACTORS,
        "queues": QUEUES,
        "errors": ERRORS,
        "regions": REGIONS,
        "rows": options.rows,
        "span_seconds": 30 * 86400,
    }
    load_without_indexes(connection, ["jobs_job", "jobs_jobsearchentry"], LOAD_SQL, params)
    print(f"loaded {Job.objects.count():,} jobs in {time.perf_counter() - started:.1f} s")
    if table_exists(connection, "jobs_metricrollup") and options.rollups:
        started = time.perf_counter()
        # Series per bucket: one per actor (its pair), one per queue, one per actor (ALL), one total.
        actors = max((options.rollups // ROLLUP_BUCKETS - ROLLUP_QUEUES - 1) // 2, 1)
        load_without_indexes(connection, ["jobs_metricrollup"], ROLLUP_SQL, {"queues": ROLLUP_QUEUES, "actors": actors})
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM jobs_metricrollup")
            count = cursor.fetchone()[0]
        print(
            f"loaded {count:,} metrics rollup rows ({actors:,} actors on {ROLLUP_QUEUES} queues) in "
            f"{time.perf_counter() - started:.1f} s"
        )


def indexes_used(connection, sql: str) -> str:
    """The indexes in the plan PostgreSQL chooses for ``sql`` (a query as executed)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    scan = r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)?(?: using| on) (\w+)"
    names = sorted(set(re.findall(scan, plan)))
    scans = " + seq scan" if "Seq Scan on jobs_job" in plan else ""
    return (", ".join(names) or "no index") + scans


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

    if not options.reuse:
        call_command("migrate", verbosity=0)
        load(options, connection)
        prepare_detail_page(Job, JobAttempt, timezone)
    print(f"database {name}: {Job.objects.count():,} jobs")
    dead = Job.objects.filter(status="failed", attempt_log__isnull=False).first()
    deep_offset = int(Job.objects.count() * 0.9)
    deep = Job.objects.order_by("-created_at", "-id").values_list("created_at", "id")[deep_offset]

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
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
        ("schedules", "/schedules/"),
        ("workers", "/workers/"),
        ("health", "/health/"),
        ("job list, last hour (time filter)", f"/jobs/?created_after={hour_ago}"),
        ("job list, filter matching nothing", "/jobs/?status=failed&actor=countdown"),
        ("search: error text (the old search)", "/jobs/?search=row+12345"),
        ("search: args substring (~220 jobs)", "/jobs/?search=customer-4711"),
        ("search: args substring, common", "/jobs/?search=customer-1"),
        ("search: result substring", "/jobs/?search=INV-77777"),
        ("search: kwargs key:value (1 job)", "/jobs/?search=order_id:123457"),
        ("search: key:value + status filter", "/jobs/?search=region:eu-west&status=failed"),
        ("search: no match", "/jobs/?search=no-such-customer"),
        ("API search: args substring", "/api/v1/jobs?search=customer-4711"),
        ("API search: key:value", "/api/v1/jobs?search=order_id:123457"),
        ("metrics page, 1 h", "/charts/?window=1h"),
        ("metrics page, 24 h", "/charts/?window=24h"),
        ("metrics page, 7 d, one queue", "/charts/?window=7d&queue=q3"),
        ("metrics page, 30 d", "/charts/?window=30d"),
        ("metrics page, 30 d, one actor", "/charts/?window=30d&actor=bench.actor_17"),
        ("API 30-day chart, one queue", "/api/v1/metrics/series?window=30d&queue=q3"),
        ("API 30-day chart, all", "/api/v1/metrics/series?window=30d"),
        ("API breakdown by actor, 24 h", "/api/v1/metrics/breakdown?window=24h&by=actor"),
        ("overview, live region", "/?partial=1"),
        ("job list, live region", "/jobs/?partial=1"),
    ]
    print(f"\n{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}  (n={options.runs})")
    failures, plans = [], []
    for label, url in pages:
        response = client.get(url)
        if response.status_code == 404:
            print(f"{label:44} {'(not in this checkout)':>35}")
            continue
        assert response.status_code == 200, (url, response.status_code)
        for _ in range(2):
            client.get(url)
        timings = []
        for _ in range(options.runs):
            begin = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - begin) * 1000)
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        p95 = percentile(timings, 0.95)
        verdict = "" if p95 < BUDGET_MS else "  OVER BUDGET"
        if verdict:
            failures.append(label)
        print(
            f"{label:44} {statistics.median(timings):8.1f} {p95:8.1f} {max(timings):8.1f} {len(captured):8d}{verdict}"
        )
        if "search" in url:
            searched = [q["sql"] for q in captured.captured_queries if "ILIKE" in q["sql"] or "@>" in q["sql"]]
            searched = searched or [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"]]
            if searched:  # a search within failed jobs may read twice: a probe, then the matches
                plans.append((label, "; then ".join(indexes_used(connection, sql) for sql in searched)))
    if plans:
        print("\nplans of the search queries (indexes the planner chose):")
        for label, used in plans:
            print(f"  {label:44} {used}")
    print(f"\nbudget: p95 < {BUDGET_MS:.0f} ms for every page and API above")
    print("result: " + ("PASS" if not failures else f"FAIL ({len(failures)} over budget: {'; '.join(failures)})"))
    return 1 if failures else 0


def prepare_detail_page(Job, JobAttempt, timezone) -> None:
    """A detail page with a parent, three failed attempts with tracebacks and two children."""
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


if __name__ == "__main__":
    sys.exit(main())
