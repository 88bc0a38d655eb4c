"""The admin registers every job model with filters, search and the dashboard's actions."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job, JobAttempt, JobStatus
from jobs.scheduling import services as schedule_services
from tests.factories import JobFactory


@pytest.fixture
def admin_browser(db):
    user = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["job", "jobattempt", "worker", "schedule", "schedulerun"])
def test_every_model_has_a_changelist_with_search(admin_browser, model):
    job = JobFactory(status=JobStatus.FAILED)
    JobAttempt.objects.create(job=job, number=1, outcome="failed", finished_at=timezone.now(), error_type="KeyError")
    schedule = schedule_services.schedule_create(name="tick", actor_name="echo", interval_seconds=60)
    schedule_services.schedule_run_now(schedule_id=schedule.pk)
    url = reverse(f"admin:jobs_{model}_changelist")
    assert admin_browser.get(url).status_code == 200
    assert admin_browser.get(url, {"q": "echo"}).status_code == 200


def test_admin_purges_only_failed_jobs(admin_browser):
    dead, alive = JobFactory(status=JobStatus.FAILED), JobFactory(status=JobStatus.QUEUED)
    response = admin_browser.post(
        reverse("admin:jobs_job_changelist"),
        {"action": "purge_failed_jobs", "_selected_action": [dead.pk, alive.pk]},
    )
    assert response.status_code == 302
    assert list(Job.objects.values_list("pk", flat=True)) == [alive.pk]
