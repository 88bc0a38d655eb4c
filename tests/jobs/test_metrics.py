"""Metrics rollups: the histograms, the writer (idempotent, merging, outliving pruned jobs), the
selectors, the API and the page."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs import services as job_services
from jobs.metrics import histogram, selectors, services
from jobs.metrics.models import ALL, MetricRollup, Resolution
from jobs.models import Job, JobStatus
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 29, 12, 0, 40, tzinfo=UTC)


def finished_job(*, at, actor="echo", queue="default", status=JobStatus.SUCCEEDED, wait=0.05, run=1.0):
    started = at - timedelta(seconds=run)
    return JobFactory(
        actor_name=actor,
        queue_name=queue,
        status=status,
        created_at=started - timedelta(seconds=wait + 1),
        enqueued_at=started - timedelta(seconds=wait),
        started_at=started,
        finished_at=at,
    )


def rows(resolution=Resolution.MINUTE, **filters):
    return {
        (r.bucket, r.queue_name, r.actor_name): (r.succeeded, r.failed)
        for r in MetricRollup.objects.filter(resolution=resolution, **filters)
    }


# --- histogram ------------------------------------------------------------------------------------


def test_histogram_buckets_are_log_scale_and_bounded():
    assert histogram.bucket_of(0.0) == 0
    assert histogram.bucket_of(0.001) == 1
    assert histogram.bucket_of(0.01) == 9
    assert histogram.bucket_of(1.0) == 25
    assert histogram.bucket_of(10**9) == histogram.LAST
    for seconds in (0.0042, 0.3, 7.5, 1234.0):
        index = histogram.bucket_of(seconds)
        assert histogram.lower_bound(index) <= seconds < histogram.upper_bound(index)


def test_histogram_percentiles_are_within_a_bucket_and_merge_exactly():
    durations = [0.01 * n for n in range(1, 1001)]  # 10 ms … 10 s
    counts = [0] * histogram.SIZE
    for d in durations:
        counts[histogram.bucket_of(d)] += 1
    for q, exact in ((0.5, 5.0), (0.95, 9.5), (0.99, 9.9)):
        assert abs(histogram.percentile(histogram.sparse(counts), q) - exact) / exact < 0.34
    halves = ([0] * histogram.SIZE, [0] * histogram.SIZE)
    for n, d in enumerate(durations):
        halves[n % 2][histogram.bucket_of(d)] += 1
    assert histogram.merge(histogram.sparse(half) for half in halves) == histogram.sparse(counts)
    assert histogram.percentile({}, 0.5) is None


def test_the_sql_bucket_is_the_python_bucket():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's expression")
    samples = [0.0, 0.0004, 0.001, 0.0012, 0.05, 0.99, 1.0, 3.3, 86400.0, 10.0**9]
    with connection.cursor() as cursor:
        for seconds in samples:
            cursor.execute(f"SELECT {histogram.bucket_sql(f'make_interval(secs => {seconds!r})')}")
            assert cursor.fetchone()[0] == histogram.bucket_of(seconds), seconds


# --- writer ---------------------------------------------------------------------------------------


def test_closed_minutes_are_rolled_up_per_pair_queue_actor_and_all():
    minute = datetime(2026, 11, 29, 11, 58, tzinfo=UTC)
    finished_job(at=minute + timedelta(seconds=5), actor="echo", queue="default")
    finished_job(at=minute + timedelta(seconds=50), actor="echo", queue="default", status=JobStatus.FAILED)
    finished_job(at=minute + timedelta(seconds=59), actor="scans.run", queue="scans")
    finished_job(at=NOW - timedelta(seconds=10), actor="echo")  # the current minute: not closed yet
    JobFactory(status=JobStatus.RUNNING)  # not finished: not counted

    services.metrics_rollup(now=NOW)

    got = rows(bucket=minute)
    assert got[(minute, "default", "echo")] == (1, 1)
    assert got[(minute, "scans", "scans.run")] == (1, 0)
    assert got[(minute, "default", ALL)] == (1, 1)
    assert got[(minute, ALL, "scans.run")] == (1, 0)
    assert got[(minute, ALL, ALL)] == (2, 1)
    assert not MetricRollup.objects.filter(bucket__gte=datetime(2026, 11, 29, 12, 0, tzinfo=UTC)).exists()
    pair = MetricRollup.objects.get(
        resolution=Resolution.MINUTE, bucket=minute, queue_name="default", actor_name="echo"
    )
    assert pair.run_histogram == {str(histogram.bucket_of(1.0)): 2}
    assert pair.wait_histogram == {str(histogram.bucket_of(0.05)): 2}


def test_a_second_pass_changes_nothing_and_late_minutes_are_picked_up_next_time():
    minute = datetime(2026, 11, 29, 11, 58, tzinfo=UTC)
    finished_job(at=minute + timedelta(seconds=5))
    services.metrics_rollup(now=NOW)
    before = rows()
    assert services.metrics_rollup(now=NOW)["minutes"] == 0
    assert rows() == before

    finished_job(at=NOW - timedelta(seconds=20))  # in 12:00, closed at 12:01:30
    services.metrics_rollup(now=NOW + timedelta(minutes=1))
    current = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert rows(bucket=current)[(current, ALL, ALL)] == (1, 0)


def test_rewriting_a_bucket_is_an_upsert_of_the_same_values():
    minute = datetime(2026, 11, 29, 11, 58, tzinfo=UTC)
    finished_job(at=minute + timedelta(seconds=5))
    services.metrics_rollup(now=NOW)
    before = rows()
    MetricRollup.objects.filter(resolution=Resolution.MINUTE).delete()  # as if two passes raced
    services.metrics_rollup(now=NOW)
    services._write(
        Resolution.MINUTE, [minute], services._finished_groups(minute, minute + services.MINUTE), add_all_rows=True
    )
    assert rows() == before
    assert MetricRollup.objects.filter(resolution=Resolution.MINUTE, bucket=minute).count() == 4


def test_hours_merge_their_minutes_exactly():
    hour = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    for minute, run in ((1, 0.2), (17, 2.0), (59, 20.0)):
        finished_job(at=hour + timedelta(minutes=minute, seconds=1), run=run)
    finished_job(at=hour + timedelta(minutes=30), actor="scans.run", queue="scans", status=JobStatus.FAILED)

    result = services.metrics_rollup(now=NOW)

    assert result["hours"] >= 1
    got = rows(Resolution.HOUR, bucket=hour)
    assert got[(hour, "default", "echo")] == (3, 0)
    assert got[(hour, ALL, ALL)] == (3, 1)
    assert got[(hour, "scans", ALL)] == (0, 1)
    merged = MetricRollup.objects.get(resolution=Resolution.HOUR, bucket=hour, queue_name=ALL, actor_name="echo")
    minutes = MetricRollup.objects.filter(resolution=Resolution.MINUTE, queue_name=ALL, actor_name="echo")
    assert merged.run_histogram == histogram.merge(m.run_histogram for m in minutes)
    # The hour of NOW (12:00) is not complete: no row for it yet.
    assert not MetricRollup.objects.filter(resolution=Resolution.HOUR, bucket__gte=hour + timedelta(hours=2)).exists()


def test_rollups_survive_pruning_the_jobs_they_count(settings):
    minute = datetime(2026, 11, 29, 11, 58, tzinfo=UTC)
    finished_job(at=minute + timedelta(seconds=5))
    services.metrics_rollup(now=NOW)
    before = rows()

    Job.objects.update(finished_at=minute - timedelta(days=400))  # make them prunable
    assert job_services.jobs_prune(older_than_days=1) == 1
    assert not Job.objects.exists()
    services.metrics_rollup(now=NOW + timedelta(minutes=1))

    after = rows()
    assert {k: v for k, v in after.items() if k in before} == before


def test_expired_rollups_are_deleted_by_resolution():
    old_minute = NOW - timedelta(hours=30)
    old_hour = NOW - timedelta(days=91)
    kept_hour = NOW - timedelta(days=30)
    for resolution, bucket in ((60, old_minute), (3600, old_hour), (3600, kept_hour)):
        MetricRollup.objects.create(resolution=resolution, bucket=bucket, queue_name=ALL, actor_name=ALL)
    assert services.metrics_prune(now=NOW) == 2
    assert list(MetricRollup.objects.values_list("bucket", flat=True)) == [kept_hour]


def test_the_actor_is_internal_and_scheduled_every_minute():
    from jobs import registry
    from jobs.scheduling.models import Schedule

    spec = registry.get_spec("jobs.metrics_rollup")
    assert spec is not None and spec.visibility == registry.INTERNAL
    schedule = Schedule.objects.get(actor_name="jobs.metrics_rollup")
    assert schedule.cron == "* * * * *" and schedule.enabled


# --- selectors ------------------------------------------------------------------------------------


@pytest.fixture
def rolled_up():
    base = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    for n in range(30):
        finished_job(at=base + timedelta(minutes=n, seconds=3), run=0.1 * (n + 1))
    finished_job(at=base + timedelta(minutes=5), actor="scans.run", queue="scans", status=JobStatus.FAILED)
    services.metrics_rollup(now=NOW)
    return base


def test_a_series_has_one_point_per_step_with_totals(rolled_up):
    series = selectors.metric_series(window="24h", now=NOW)
    assert len(series["points"]) == 24 and series["step_seconds"] == 3600
    assert series["totals"]["succeeded"] == 30 and series["totals"]["failed"] == 1
    assert sum(p["succeeded"] for p in series["points"]) == 30
    run_p50 = series["totals"]["run_seconds"]["p50"]
    assert 1.0 < run_p50 < 2.2  # the exact median run is 1.5 s


def test_a_series_per_queue_and_per_actor(rolled_up):
    scans = selectors.metric_series(window="1h", queue="scans", now=NOW)
    assert (scans["totals"]["succeeded"], scans["totals"]["failed"]) == (0, 1)
    assert scans["totals"]["failure_rate"] == 100.0
    echo = selectors.metric_series(window="7d", actor="echo", now=NOW)
    assert len(echo["points"]) == 168
    assert echo["totals"]["succeeded"] == 30  # from the 11:00 hour rollup
    month = selectors.metric_series(window="30d", queue="default", actor="echo", now=NOW)
    assert len(month["points"]) == 120 and month["totals"]["succeeded"] == 30


def test_breakdowns_by_queue_and_actor_busiest_first(rolled_up):
    queues = selectors.metric_breakdown(by="queue", window="24h", now=NOW)["rows"]
    assert [(r["name"], r["succeeded"], r["failed"]) for r in queues] == [("default", 30, 0), ("scans", 0, 1)]
    actors = selectors.metric_breakdown(by="actor", window="1h", now=NOW)["rows"]
    assert {r["name"] for r in actors} == {"echo", "scans.run"}


def test_a_series_reads_a_fixed_number_of_queries(rolled_up, django_assert_num_queries):
    with django_assert_num_queries(2):  # the hour watermark, the rows
        selectors.metric_series(window="30d", now=NOW)
    with django_assert_num_queries(1):
        selectors.metric_series(window="1h", now=NOW)


def test_windows_of_hours_add_the_minutes_of_the_hour_not_rolled_up_yet(rolled_up):
    later = NOW + timedelta(minutes=30)  # 12:30:40: the 12:00 hour is not complete
    finished_job(at=datetime(2026, 11, 29, 12, 10, 5, tzinfo=UTC), actor="scans.run", queue="scans")
    services.metrics_rollup(now=later)
    assert not MetricRollup.objects.filter(
        resolution=Resolution.HOUR, bucket__gte=datetime(2026, 11, 29, 12, tzinfo=UTC)
    )
    series = selectors.metric_series(window="24h", queue="scans", now=later)
    assert (series["points"][-1]["succeeded"], series["totals"]["succeeded"]) == (1, 1)
    assert series["totals"]["failed"] == 1  # the 11:05 failure, from its hour rollup, counted once
    queues = {r["name"]: r for r in selectors.metric_breakdown(by="queue", window="24h", now=later)["rows"]}
    assert (queues["scans"]["succeeded"], queues["scans"]["failed"]) == (1, 1)


# --- API and page ---------------------------------------------------------------------------------


def test_the_api_answers_series_and_breakdowns(staff_client, rolled_up):
    series = staff_client.get("/api/v1/metrics/series", {"window": "30d", "actor": "echo"})
    assert series.status_code == 200
    body = series.json()
    assert body["window"] == "30d" and len(body["points"]) == 120 and body["actor"] == "echo"
    assert set(body["totals"]["run_seconds"]) == {"p50", "p95", "p99"}
    breakdown = staff_client.get("/api/v1/metrics/breakdown", {"by": "queue"}).json()
    assert breakdown["by"] == "queue"


@pytest.mark.parametrize("query", [{"window": "2d"}, {"window": ""}, {"by": "host"}])
def test_the_api_refuses_unknown_windows_and_groupings(staff_client, query):
    url = "/api/v1/metrics/breakdown" if "by" in query else "/api/v1/metrics/series"
    response = staff_client.get(url, query)
    assert response.status_code == 400
    assert "error" in response.json() or "detail" in response.json() or response.json()


def test_the_page_renders_the_charts_and_tables(reader_browser):
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    finished_job(at=minute + timedelta(seconds=1), actor="scans.run", queue="scans")
    services.metrics_rollup()
    page = reader_browser.get("/charts/", {"window": "1h", "queue": "scans"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="throughput-chart"' in html and 'id="latency-chart"' in html
    assert page.context["series"]["totals"]["succeeded"] == 1
    assert [r["name"] for r in page.context["queues"]["rows"]] == ["scans"]
    partial = reader_browser.get("/charts/", {"window": "30d", "partial": "1"})
    assert partial.status_code == 200 and b"<html" not in partial.content


def test_the_page_falls_back_to_the_default_window(reader_browser):
    page = reader_browser.get("/charts/", {"window": "forever"})
    assert page.status_code == 200 and page.context["window"] == selectors.DEFAULT_WINDOW


def test_the_page_reads_a_fixed_number_of_queries(reader_browser, rolled_up, django_assert_max_num_queries):
    reader_browser.get("/charts/", {"window": "30d"})  # the session's first reads
    with django_assert_max_num_queries(12):
        reader_browser.get("/charts/", {"window": "30d", "actor": "echo"})


def test_percentiles_in_one_pass_land_in_the_right_buckets():
    counts = {"1": 50, "25": 49, str(histogram.LAST): 1}  # 50 at about 1 ms, 49 at about 1 s, 1 huge
    p50, p95, p99, p100 = histogram.percentiles(counts, (0.5, 0.95, 0.99, 1.0))
    assert p50 == pytest.approx(histogram.upper_bound(1), abs=1e-6)  # the 50th is the last of bucket 1
    assert histogram.lower_bound(25) <= p95 <= p99 <= histogram.upper_bound(25)
    assert p100 == pytest.approx(histogram.lower_bound(histogram.LAST), abs=1e-6)
    assert histogram.percentiles({}, (0.5, 0.9)) == [None, None]


def test_the_portable_rollup_path_counts_what_the_postgresql_one_does(monkeypatch):
    """SQLite's path (rows bucketed in Python) gives the groups PostgreSQL's GROUP BY gives."""
    minute = datetime(2026, 11, 29, 11, 58, tzinfo=UTC)
    for n, run in enumerate((0.0004, 0.02, 1.0, 7.0, 3600.0)):
        finished_job(at=minute + timedelta(seconds=n), run=run, wait=run / 3)
    finished_job(at=minute + timedelta(seconds=9), status=JobStatus.FAILED, actor="scans.run", queue="scans")
    native = services._finished_groups(minute, minute + services.MINUTE)

    class Portable:
        vendor = "sqlite"

    monkeypatch.setattr(services, "connection", Portable())
    assert services._finished_groups(minute, minute + services.MINUTE) == native
    assert native[(minute, "default", "echo")][0] == 5
