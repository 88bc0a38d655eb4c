"""The dashboards' job counts (jobs.selectors.stats.dashboard_counts): exact on a small table; on a
large one, a snapshot that is served for a few seconds and then counted again in the background."""

import threading
import time

import pytest

from jobs.models import JobStatus
from jobs.selectors import stats
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the background count reads committed rows


def queued_in_default() -> int:
    return stats.dashboard_counts()[1].get("default", {}).get(JobStatus.QUEUED, 0)


def counts_age() -> float:
    return stats.counts_with_age()[1]


def wait_for_background_count(timeout=5.0):
    deadline = time.monotonic() + timeout
    while any(t.name == "jobs-counts" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the background count did not end"
        time.sleep(0.01)


def test_a_small_table_is_counted_on_every_request():
    JobFactory()
    assert queued_in_default() == 1
    JobFactory()
    assert queued_in_default() == 2
    assert counts_age() == 0


def test_a_large_table_serves_its_snapshot_then_counts_again_in_the_background(monkeypatch):
    monkeypatch.setattr(stats, "COUNTS_SNAPSHOT_JOBS", 2)  # "large" from two jobs on
    JobFactory.create_batch(2)
    assert queued_in_default() == 2
    JobFactory()
    assert queued_in_default() == 2  # fresh: the snapshot, not a count
    assert 0 <= counts_age() < stats.COUNTS_FRESH_SECONDS

    monkeypatch.setattr(stats, "COUNTS_FRESH_SECONDS", 0.0)
    assert queued_in_default() == 2  # stale: still served, while the process counts again
    wait_for_background_count()
    assert queued_in_default() == 3  # the background count's snapshot

    monkeypatch.setattr(stats, "COUNTS_STALE_SECONDS", 0.0)
    JobFactory()
    assert queued_in_default() == 4  # too old to serve: the request counts
    assert counts_age() == 0


def test_a_large_table_that_shrank_is_counted_on_every_request_again(monkeypatch):
    monkeypatch.setattr(stats, "COUNTS_SNAPSHOT_JOBS", 3)
    jobs = JobFactory.create_batch(3)
    assert queued_in_default() == 3
    monkeypatch.setattr(stats, "COUNTS_FRESH_SECONDS", 0.0)
    monkeypatch.setattr(stats, "COUNTS_STALE_SECONDS", 0.0)
    jobs[0].delete()
    assert queued_in_default() == 2  # counted, and no longer large
    jobs[1].delete()
    monkeypatch.setattr(stats, "COUNTS_FRESH_SECONDS", 5.0)
    monkeypatch.setattr(stats, "COUNTS_STALE_SECONDS", 60.0)
    assert queued_in_default() == 1  # no snapshot kept: counted again
