"""Search by arguments and results (jobs.search): what matches, and that PostgreSQL uses the indexes."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import selectors
from jobs.models import Job, JobStatus
from jobs.search import parse, search_filter
from jobs.selectors import jobs as job_selectors
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


def found(term, **filters):
    return set(selectors.job_list(search=term, **filters).values_list("pk", flat=True))


@pytest.fixture
def jobs():
    return {
        "order": JobFactory(args=[42, "customer-4711"], kwargs={"region": "eu-west", "order_id": 987}),
        "other": JobFactory(args=[1], kwargs={"region": "us-east", "order_id": 988}),
        "result": JobFactory(status=JobStatus.SUCCEEDED, result={"invoice": "INV-2026-77", "total": 12}),
        "error": JobFactory(status=JobStatus.FAILED, error_type="KeyError", error_message="missing sku ABC-1"),
        "keyed": JobFactory(idempotency_key="nightly-export-2026-11-29"),
        "percent": JobFactory(kwargs={"note": "100% done_now"}),
    }


def test_a_substring_of_args_kwargs_result_error_or_key_finds_its_job(jobs):
    assert found("customer-4711") == {jobs["order"].pk}
    assert found("CUSTOMER-47") == {jobs["order"].pk}  # case-insensitive
    assert found("eu-west") == {jobs["order"].pk}
    assert found("INV-2026") == {jobs["result"].pk}
    assert found("sku abc") == {jobs["error"].pk}
    assert found("nightly-export") == {jobs["keyed"].pk}
    assert found("no such text anywhere") == set()


def test_like_wildcards_in_the_term_are_taken_literally(jobs):
    assert found("100% done_now") == {jobs["percent"].pk}
    assert found("%") == {jobs["percent"].pk}
    assert found("_") == {jobs["percent"].pk, jobs["order"].pk, jobs["other"].pk}  # "order_id" has one


def test_key_value_matches_kwargs_or_result_by_json_value(jobs):
    assert found("order_id:987") == {jobs["order"].pk}
    assert found('order_id:"987"') == set()  # a string is not the number
    assert found("region:us-east") == {jobs["other"].pk}  # not JSON: taken as a string
    assert found("total:12") == {jobs["result"].pk}


def test_a_job_id_finds_that_job_only(jobs):
    assert found(str(jobs["error"].pk)) == {jobs["error"].pk}
    assert found(str(uuid.uuid4())) == set()


def test_search_combines_with_the_other_filters(jobs):
    assert found("region", status=[JobStatus.QUEUED]) == {jobs["order"].pk, jobs["other"].pk}
    assert found("region", status=[JobStatus.FAILED]) == set()


def test_parse_tells_key_values_from_text():
    assert parse("a:1").key == "a" and parse("a:1").value == 1
    assert parse('a:{"b": [1]}').value == {"b": [1]}
    assert parse("KeyError: boom").key is None  # a space after the colon: plain text
    assert parse("http://example.com").key == "http"  # also searched as text (see the next test)


def test_a_key_value_looking_term_is_also_searched_as_text():
    job = JobFactory(args=["see http://example.com/x"])
    assert found("http://example.com") == {job.pk}


def test_the_api_and_the_page_search_arguments(staff_client, staff_browser, jobs):
    results = staff_client.get("/api/v1/jobs", {"search": "order_id:988"}).json()["results"]
    assert [row["id"] for row in results] == [str(jobs["other"].pk)]
    page = staff_browser.get("/jobs/", {"search": "customer-4711"})
    assert page.status_code == 200
    assert [row.pk for row in page.context["rows"]] == [jobs["order"].pk]


BULK_ROWS = """
INSERT INTO jobs_job (id, actor_name, queue_name, priority, args, kwargs, status, dispatch_token, attempts,
    max_attempts, uncharged_attempts, retry_cycle_start, crash_suspect, worker_id, progress, progress_message,
    error_type, error_message, created_at)
SELECT gen_random_uuid(), 'echo', 'default', 0, jsonb_build_array(i, 'batch-' || (i %% 5000)),
    jsonb_build_object('order_id', -i, 'region', 'r' || (i %% 7)), 'succeeded', 0, 1, 4, 0, 0, false, '', 0, '',
    '', '', now() - i * interval '1 second'
FROM generate_series(1, %s) AS i
"""


def analyze_jobs(cursor) -> None:
    """Statistics of the jobs and their search entries as on vacuumed tables. The GIN indexes' pending lists are emptied
    first: the rows of earlier tests' rolled-back transactions stay in them (a pending list is not
    transactional), and the planner charges a GIN scan for every pending page, so which tests ran
    before in this database (another order under xdist) would decide the plan."""
    cursor.execute(
        "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'gin'"
        " AND i.indrelid IN ('jobs_job'::regclass, 'jobs_jobsearchentry'::regclass)"
    )
    # Every row in the sample: with the default target, ANALYZE samples 30,000 of the 50,000 rows at
    # random, and in one CI run the substring's estimate came out at 505 rows, so the planner walked the
    # page order instead of the trigram index. Read whole, the same rows give the same statistics.
    cursor.execute("SET LOCAL default_statistics_target = 1000")
    cursor.execute("ANALYZE jobs_job")
    cursor.execute("ANALYZE jobs_jobsearchentry")
    cursor.execute("SET LOCAL default_statistics_target TO DEFAULT")


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # A small test table would be scanned whatever the indexes: ask the planner as if it were large.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
class TestThePlanUsesTheIndexes:
    @pytest.fixture(autouse=True)
    def analysed(self, jobs):
        # Enough rows, and fresh statistics, for the planner to weigh a walk of the created_at index
        # (the page's order) against the search indexes as it does on a large table: below some
        # 15,000 rows reading the whole table in order is rightly cheaper.
        with connection.cursor() as cursor:
            cursor.execute(BULK_ROWS, [50_000])
            analyze_jobs(cursor)

    def page_query(self, term):
        qs = selectors.job_list(search=term).only(*selectors.LIST_FIELDS)
        return qs.order_by("-created_at", "-id")[:51]

    def test_substring_search_uses_the_trigram_index(self):
        plan = explain(self.page_query("customer-4711"))
        assert "search_entry_trgm_idx" in plan, plan

    def test_key_value_search_uses_the_jsonb_indexes(self):
        plan = explain(self.page_query("order_id:987"))
        assert "search_entry_kwargs_idx" in plan and "search_entry_result_idx" in plan, plan

    def test_the_api_page_query_uses_the_trigram_index(self, staff_client):
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            staff_client.get("/api/v1/jobs", {"search": "customer-4711"})
        query = next(q["sql"] for q in captured.captured_queries if "ILIKE" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {query}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "search_entry_trgm_idx" in plan, plan
        assert Job.objects.count() > 50_000


def test_the_portable_key_value_path_finds_what_containment_finds(jobs):
    """SQLite's key/value path (JSON key lookups) matches the jsonb containment PostgreSQL uses."""
    from jobs.search import search_filter

    for term in ("order_id:987", "region:us-east", "total:12", 'order_id:"987"', "missing:1"):
        portable = set(Job.objects.filter(search_filter(term, vendor="sqlite")).values_list("pk", flat=True))
        assert portable == found(term), term


class TestSearchAmongFailedJobs:
    """A search within failed or cancelled jobs (selectors.jobs._search_among_dead) finds the same
    jobs in the same order whichever way it reads them: the walk in page order, or the partial
    indexes' matches by id when the newest jobs are sparse in matches."""

    @pytest.fixture(autouse=True)
    def small_thresholds(self, monkeypatch):
        monkeypatch.setattr(job_selectors, "SEARCH_PROBE_ROWS", 4)
        monkeypatch.setattr(job_selectors, "SEARCH_DENSE_HITS", 2)
        monkeypatch.setattr(job_selectors, "SEARCH_NARROW_MAX", 4)

    @pytest.fixture
    def failed(self):
        now = timezone.now()
        # Newest first: five in us-west, then three in eu-west, then five in ap-south, all failed;
        # a few other jobs in eu-west that are not failed.
        regions = ["us-west"] * 5 + ["eu-west"] * 3 + ["ap-south"] * 5
        jobs = [
            JobFactory(
                status=JobStatus.FAILED,
                kwargs={"region": region, "n": n},
                error_type="KeyError",
                created_at=now - timedelta(minutes=n),
            )
            for n, region in enumerate(regions)
        ]
        JobFactory.create_batch(3, status=JobStatus.SUCCEEDED, kwargs={"region": "eu-west"})
        JobFactory(status=JobStatus.CANCELLED, kwargs={"region": "eu-west"}, created_at=now)
        return jobs

    def expected(self, term, statuses):
        plain = Job.objects.filter(status__in=statuses).filter(search_filter(term, vendor=connection.vendor))
        return list(plain.order_by("-created_at", "-id").values_list("pk", flat=True))

    def listed(self, term, statuses):
        """The jobs listed, whether the partial indexes' matches were read, and whether by id."""
        with CaptureQueriesContext(connection) as captured:
            rows = list(selectors.job_list(search=term, status=statuses).order_by("-created_at", "-id"))
        sql = [q["sql"] for q in captured.captured_queries]
        by_ids = any(re.search(r'"id" IN \((?!SELECT)', q) for q in sql)  # a list of ids, not the entries
        return [job.pk for job in rows], any("MATERIALIZED" in q for q in sql), by_ids

    @pytest.mark.parametrize(
        ("term", "statuses", "matches_read", "by_ids"),
        [
            ("region:us-west", [JobStatus.FAILED], False, False),  # the newest match: the walk
            ("region:eu-west", [JobStatus.FAILED], True, True),  # three older ones: read by id
            ("region:eu-west", [JobStatus.FAILED, JobStatus.CANCELLED], True, True),
            ("region:ap-south", [JobStatus.FAILED], True, False),  # five, more than narrowed to: the walk
            ("region:nowhere", [JobStatus.FAILED], True, False),  # none: nothing more to read
            ("eu-west", [JobStatus.CANCELLED], False, True),  # fewer cancelled jobs than the probe reads
            ("region:eu-west", [JobStatus.SUCCEEDED], False, False),  # not failed or cancelled: as before
        ],
    )
    def test_the_same_jobs_in_the_same_order(self, failed, term, statuses, matches_read, by_ids):
        rows, read, narrowed = self.listed(term, statuses)
        assert rows == self.expected(term, statuses)
        postgresql = connection.vendor == "postgresql"  # elsewhere: always the walk
        assert (read, narrowed) == (matches_read and postgresql, by_ids and postgresql)

    def test_pages_of_a_narrowed_search_are_the_pages_of_the_walk(self, failed):
        qs = selectors.job_list(search="region:eu-west", status=[JobStatus.FAILED])
        seen, after = [], None
        while True:
            page = selectors.job_list_page(qs, after=after, size=2)
            seen += [job.pk for job in page["rows"]]
            if not page["older"]:
                break
            after = page["older"]
        assert seen == self.expected("region:eu-west", [JobStatus.FAILED])

    def test_the_api_lists_a_narrowed_search_like_the_walk(self, failed, staff_client):
        results = staff_client.get("/api/v1/jobs", {"search": "region:eu-west", "status": "failed"}).json()["results"]
        assert [row["id"] for row in results] == [str(pk) for pk in self.expected("region:eu-west", ["failed"])]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
def test_matches_among_failed_jobs_come_from_their_partial_indexes():
    # Statistics of a table like a real one (a few thousand failed jobs among many), as in
    # TestThePlanUsesTheIndexes: with a handful of rows the planner rightly prefers any btree.
    with connection.cursor() as cursor:
        cursor.execute(BULK_ROWS, [20_000])
        cursor.execute(BULK_ROWS.replace("'succeeded'", "'failed'"), [4_000])
        analyze_jobs(cursor)
    JobFactory(status=JobStatus.FAILED, kwargs={"region": "eu-west"})
    qs = selectors.job_list(status=[JobStatus.FAILED]).filter(
        search_filter("region:eu-west", vendor="postgresql", on_jobs=True)
    )
    plan = explain(qs.order_by().values("pk"))
    # Which of the trigram indexes (all jobs' or the failed ones') the planner weighs cheaper
    # varies with the statistics; the jsonb term reads the failed jobs' index.
    assert "job_dead_kwargs_path_idx" in plan, plan
    # Without a search they are no list of failed jobs: a whole GIN index is slow to read.
    plan = explain(selectors.job_list(status=[JobStatus.FAILED], actor="echo").order_by().values("pk"))
    assert "_path_idx" not in plan and "trgm" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search entries are PostgreSQL's")
class TestSearchEntries:
    """The search entries (jobs.models.JobSearchEntry) that triggers keep beside the jobs."""

    def documents(self):
        from jobs.models import JobSearchEntry
        from jobs.search import SearchDocument

        expected = dict(Job.objects.annotate(d=SearchDocument()).values_list("pk", "d"))
        kept = dict(JobSearchEntry.objects.values_list("job_id", "document"))
        return expected, kept

    def writes_to_entries(self) -> int:
        """Rows this transaction inserted, updated or deleted in the entries' table so far."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid)"
                " + pg_stat_get_xact_tuples_deleted(c.oid) FROM pg_class c WHERE c.relname = 'jobs_jobsearchentry'"
            )
            return cursor.fetchone()[0]

    def test_every_way_a_job_is_written_keeps_its_entry_equal_to_its_document(self, jobs):
        from jobs import services, states

        with connection.cursor() as cursor:
            cursor.execute(BULK_ROWS, [300])  # one INSERT of many rows: one trigger call
        submitted = services.job_submit_many(actor_name="echo", calls=[([n], {"n": n}) for n in range(5)])
        edited = jobs["other"]
        edited.kwargs = {"region": "ap-south"}
        edited.error_message = "edited by hand"
        edited.save()
        running = submitted[0]
        states.claim_many([(running.pk, running.dispatch_token)], worker_id="w:1")
        states.succeed_many([(running.pk, running.dispatch_token, {"invoice": "INV-9"})])
        expected, kept = self.documents()
        assert len(expected) == 6 + 300 + 5
        assert kept == expected
        assert found("INV-9") == {running.pk}
        assert found("region:ap-south") == {edited.pk}
        assert found("invoice:INV-9") == {running.pk}

    def test_a_claim_and_a_success_without_result_write_no_entry(self):
        from jobs import states

        job = JobFactory(args=["customer-1"])
        before = self.writes_to_entries()
        claimed = states.claim_many([(job.pk, job.dispatch_token)], worker_id="w:1")
        assert str(job.pk) in claimed
        assert states.succeed_many([(job.pk, job.dispatch_token, None)]) == {str(job.pk)}
        assert self.writes_to_entries() == before
        assert found("customer-1") == {job.pk}

    def test_a_cleared_result_is_no_longer_found(self, jobs):
        from datetime import timedelta

        from jobs import services

        Job.objects.filter(pk=jobs["result"].pk).update(finished_at=timezone.now() - timedelta(days=2))
        assert found("INV-2026") == {jobs["result"].pk}
        assert services.jobs_results_expire(older_than=timedelta(days=1)) == 1
        assert found("INV-2026") == set() and found("total:12") == set()
        expected, kept = self.documents()
        assert kept == expected

    def test_deleting_jobs_deletes_their_entries(self, jobs):
        from jobs.models import JobSearchEntry

        Job.objects.filter(pk__in=[jobs["order"].pk, jobs["error"].pk]).delete()
        assert JobSearchEntry.objects.count() == Job.objects.count() == 4
        assert found("customer-4711") == set()
