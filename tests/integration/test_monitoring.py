"""Compliance monitoring end to end: a real worker, the real scheduler, the real test database and Redis."""

import importlib
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from jobs.models import AttemptOutcome, JobAttempt, JobStatus
from jobs.scheduling import services as schedule_services
from jobs.scheduling.models import Schedule, ScheduleRun
from monitoring.models import Record, ScanRun, Violation, ViolationEvent
from tests.integration.conftest import wait_for, wait_status
from tests.monitoring import dataset
from tests.monitoring.conftest import active_pairs, expected_violations, load_records, make_policy
from tests.scheduling.conftest import start_scheduler  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
API = "/api/v1/monitoring"
builtin = importlib.import_module("monitoring.migrations.0002_continuous_scan_schedule")
RECORDS = 3000


@pytest.fixture
def invoices(db):
    policy, rules = make_policy(rules=dataset.RULES)
    load_records(dataset.generate(RECORDS, seed=23))
    return policy, rules


def scan_and_wait(client, body=None, timeout=90):
    response = client.post(f"{API}/scan", body or {}, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["job"]["id"]
    return wait_status(job_id, (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=timeout)


def assert_no_duplicate_history() -> None:
    """One violation per (rule, record), and one 'opened' event per violation."""
    pairs = list(Violation.objects.values_list("rule_id", "record_id"))
    assert len(pairs) == len(set(pairs))
    opened = list(ViolationEvent.objects.filter(from_status="").values_list("violation_id", flat=True))
    assert sorted(opened) == sorted(Violation.objects.values_list("id", flat=True))


def test_a_manual_full_scan_on_a_real_worker_opens_exactly_what_the_oracle_finds(staff_client, start_worker, invoices):
    policy, rules = invoices
    start_worker(queues=["scans"])
    job = scan_and_wait(staff_client)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    expected = expected_violations(rules)
    assert active_pairs() == expected and len(expected) > RECORDS
    assert {rule_id for rule_id, _ in expected} == {rule.pk for rule in rules}  # every operator bites
    assert_no_duplicate_history()
    scan = ScanRun.objects.get(job_id=job.pk)
    assert (scan.records_scanned, scan.rules_evaluated, scan.violations_opened) == (RECORDS, len(rules), len(expected))
    assert job.result["scan_id"] == scan.pk and job.progress == 100
    status = staff_client.get(f"{API}/status").json()
    assert status["last_scan"]["id"] == scan.pk and status["last_scan"]["job_id"] == str(job.pk)
    assert status["violations"]["by_status"]["open"] == len(expected)


def test_the_builtin_schedule_runs_the_continuous_scan_through_the_scheduler(
    staff_client,
    start_worker,
    start_scheduler,  # noqa: F811 (the fixture imported above)
    invoices,
):
    policy, rules = invoices
    builtin.create_schedule(apps, None)  # the migration's row (a transactional test starts from a flushed database)
    schedule = Schedule.objects.get(actor_name="monitoring.continuous_scan")
    assert (schedule.interval_seconds, schedule.queue_name, schedule.enabled, schedule.overlap) == (
        300,
        "scans",
        True,
        "skip",
    )
    Schedule.objects.exclude(pk=schedule.pk).delete()  # only ours fires
    schedule_services.schedule_update(schedule_id=schedule.pk, interval_seconds=2)
    start_worker(queues=["scans"])
    start_scheduler(SCHEDULER_SYNC_INTERVAL=1)

    def succeeded_runs():
        return list(
            ScheduleRun.objects.filter(schedule=schedule, job__status=JobStatus.SUCCEEDED).order_by("fire_time")
        )

    first = wait_for(succeeded_runs, timeout=60, message="a continuous scan fired by the scheduler")[0]
    scan = ScanRun.objects.get(job_id=first.job_id)
    assert scan.mode == "incremental" and scan.status == "succeeded" and scan.details[0]["mode"] == "full"
    assert active_pairs() == expected_violations(rules)

    # A change after that scan is picked up by a later one, fired by the scheduler alone.
    record = Record.objects.order_by("id").first()
    Record.objects.filter(pk=record.pk).update(data={"amount": "not a number"}, updated_at=timezone.now())
    changed_at = timezone.now()
    later = wait_for(
        lambda: ScanRun.objects.filter(status="succeeded", started_at__gt=changed_at, policy__isnull=True).first(),
        timeout=30,
        message="a later continuous scan",
    )
    assert later.since is not None and later.records_scanned < RECORDS
    assert active_pairs() == expected_violations(rules)
    status = wait_for(
        lambda: (s := staff_client.get(f"{API}/status").json())["monitoring_active"] and s,
        timeout=15,
        message="the status to show monitoring active",
    )
    assert status["next_scheduled_scan"] is not None and status["scans_today"] >= 2
    assert status["last_scan"]["mode"] == "incremental"


def test_a_scan_whose_worker_is_killed_mid_way_is_rerun_and_leaves_no_duplicates(staff_client, start_worker, invoices):
    policy, rules = invoices
    worker = start_worker(queues=["scans"], env={"MONITORING_SCAN_PAUSE_SECONDS": "3"})
    response = staff_client.post(f"{API}/scan", {}, format="json")
    job_id = response.json()["job"]["id"]
    wait_for(
        lambda: ScanRun.objects.filter(job_id=job_id, status="running").exists(),
        timeout=30,
        message="the scan to start",
    )
    time.sleep(1.0)  # inside the pass: hits written, violations not yet merged, transaction open
    worker.kill_child()
    job = wait_status(job_id, (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=90)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.attempts == 2
    assert JobAttempt.objects.get(job_id=job_id).outcome == AttemptOutcome.LOST
    assert active_pairs() == expected_violations(rules)
    assert_no_duplicate_history()
    scan = ScanRun.objects.get(job_id=job_id)  # the re-run reused the scan's row
    assert scan.status == "succeeded" and scan.violations_opened == Violation.objects.count()
    assert ScanRun.objects.count() == 1


def test_concurrent_scans_of_one_policy_wait_for_each_other(staff_client, start_worker, invoices):
    policy, rules = invoices
    start_worker(queues=["scans"], threads=2, env={"MONITORING_SCAN_PAUSE_SECONDS": "2"})
    everything = staff_client.post(f"{API}/scan", {}, format="json").json()["job"]["id"]
    one = staff_client.post(f"{API}/scan", {"policy_id": policy.pk}, format="json").json()["job"]["id"]
    for job_id in (everything, one):
        assert wait_status(job_id, (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=60).status == JobStatus.SUCCEEDED
    first, second = sorted(ScanRun.objects.filter(job_id__in=[everything, one]), key=lambda s: s.finished_at)
    if connection.vendor == "postgresql":
        # Both started together, the second waited for the first's lock on the policy: its pause came after.
        # (SQLite evaluates both at once and serialises only their short write transactions.)
        assert second.finished_at - first.finished_at >= timedelta(seconds=1.8)
    assert first.violations_opened == len(expected_violations(rules))
    assert (second.violations_opened, second.violations_resolved) == (0, 0)
    assert_no_duplicate_history()
