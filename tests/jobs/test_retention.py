"""Retention by final state and the separate expiry of results, applied by the daily prune."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import timezone

from jobs import retention, services
from jobs.models import Job, JobStatus
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db
S = JobStatus
POLICY = {"succeeded": "3d", "failed": "90d", "cancelled": "7d"}


@pytest.fixture(autouse=True)
def policy(settings):
    settings.JOBS_RETENTION = dict(POLICY)
    settings.JOBS_RESULT_TTL = "1d"


def finished(status, *, days_ago: float, result=None):
    return JobFactory(status=status, finished_at=timezone.now() - timedelta(days=days_ago), result=result)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("3d", timedelta(days=3)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations_parse(text, expected):
    assert retention.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "3", "d3", "3 days", "-1d", "1.5h"])
def test_a_bad_duration_is_refused(text):
    with pytest.raises(ValueError, match="not a duration"):
        retention.parse_duration(text)


def test_a_bad_setting_names_the_entry(settings):
    settings.JOBS_RETENTION = {"failed": "90 days"}
    with pytest.raises(ImproperlyConfigured, match=r"JOBS_RETENTION\['failed'\]"):
        retention.policy()
    settings.JOBS_RETENTION = {"running": "1d"}
    with pytest.raises(ImproperlyConfigured, match="unknown state"):
        retention.policy()
    settings.JOBS_RETENTION = POLICY
    settings.JOBS_RESULT_TTL = "soon"
    with pytest.raises(ImproperlyConfigured, match="JOBS_RESULT_TTL"):
        retention.policy()


def test_the_app_checks_the_policy_at_startup(settings):
    from django.apps import apps

    settings.JOBS_RESULT_TTL = "1 day"
    with pytest.raises(ImproperlyConfigured):
        apps.get_app_config("jobs").ready()


def test_each_state_keeps_its_rows_for_its_own_time():
    gone = [finished(S.SUCCEEDED, days_ago=4), finished(S.CANCELLED, days_ago=8), finished(S.FAILED, days_ago=91)]
    kept = [
        finished(S.SUCCEEDED, days_ago=2),
        finished(S.CANCELLED, days_ago=6),
        finished(S.FAILED, days_ago=30),  # a dead letter: kept far longer than a success
        JobFactory(status=S.QUEUED, created_at=timezone.now() - timedelta(days=400)),
    ]
    assert services.jobs_prune(batch_size=2) == 3
    remaining = set(Job.objects.values_list("pk", flat=True))
    assert remaining == {j.pk for j in kept}
    assert not remaining & {j.pk for j in gone}


def test_results_expire_and_their_rows_stay():
    old = finished(S.FAILED, days_ago=2, result={"partial": 1})
    old_success = finished(S.SUCCEEDED, days_ago=1.5, result={"total": 42})
    fresh = finished(S.SUCCEEDED, days_ago=0.5, result={"total": 7})
    services.jobs_prune()
    for job in (old, old_success, fresh):
        job.refresh_from_db()
    assert (old.result, old_success.result, fresh.result) == (None, None, {"total": 7})


def test_result_expiry_walks_every_batch():
    jobs = [finished(S.FAILED, days_ago=2 + i / 100, result={"n": i}) for i in range(7)]
    assert services.jobs_results_expire(older_than=timedelta(days=1), batch_size=3) == 7
    assert not Job.objects.filter(pk__in=[j.pk for j in jobs], result__isnull=False).exists()


def test_an_explicit_age_overrides_every_state():
    job = finished(S.FAILED, days_ago=11)
    assert services.jobs_prune(older_than_days=10) == 1
    assert not Job.objects.filter(pk=job.pk).exists()


def test_the_command_applies_the_policy():
    finished(S.SUCCEEDED, days_ago=4)
    kept = finished(S.FAILED, days_ago=4)
    call_command("prune_jobs", stdout=open("/dev/null", "w"))
    assert list(Job.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_page_and_the_api_tell_when_row_and_result_go(staff_client, staff_browser):
    job = finished(S.FAILED, days_ago=0, result={"x": 1})
    body = staff_client.get(f"/api/v1/jobs/{job.pk}").json()
    row_at = job.finished_at + timedelta(days=90)
    result_at = job.finished_at + timedelta(days=1)
    assert body["row_expires_at"].startswith(timezone.localtime(row_at).isoformat()[:16])
    assert body["result_expires_at"].startswith(timezone.localtime(result_at).isoformat()[:16])
    page = staff_browser.get(f"/jobs/{job.pk}/").content.decode()
    assert f"row {row_at:%Y-%m-%d %H:%M}" in page
    assert f"result {result_at:%Y-%m-%d %H:%M}" in page


def test_a_running_job_has_no_expiry(staff_client):
    job = JobFactory(status=S.RUNNING)
    body = staff_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert (body["row_expires_at"], body["result_expires_at"]) == (None, None)


def test_the_dead_letters_page_says_how_long_they_are_kept(staff_browser):
    assert "deletes them 90 days after they failed" in staff_browser.get("/dead-letters/").content.decode()
