import pytest

from jobs import services
from jobs.audit.models import AuditEntry
from jobs.errors import InvalidTransition, ValidationFailed
from jobs.models import Job, JobStatus
from tests.factories import JobFactory

S = JobStatus
pytestmark = pytest.mark.django_db


def test_a_rerun_is_a_new_job_with_the_edited_arguments_linked_to_its_original(staff_user):
    original = JobFactory(status=S.FAILED, actor_name="echo", args=[1], kwargs={"a": 1}, priority=3)
    copy = services.job_rerun(job_id=original.pk, args=[2], user=staff_user)
    copy.refresh_from_db()
    assert copy.pk != original.pk and copy.rerun_of_id == original.pk
    assert (copy.args, copy.kwargs, copy.priority, copy.status) == ([2], {"a": 1}, 3, S.PENDING)
    assert list(original.reruns.all()) == [copy]
    original.refresh_from_db()
    assert original.status == S.FAILED  # the original stays as it was
    entry = AuditEntry.objects.get(action="job.rerun")
    assert entry.target_id == str(original.pk) and entry.detail["rerun_id"] == str(copy.pk)
    assert entry.detail["args_changed"] and not entry.detail["kwargs_changed"]


def test_a_rerun_is_validated_like_a_submit_and_needs_a_finished_public_job():
    failed = JobFactory(status=S.FAILED, actor_name="countdown")
    with pytest.raises(ValidationFailed):
        services.job_rerun(job_id=failed.pk, kwargs={"no_such_parameter": 1})
    with pytest.raises(InvalidTransition):
        services.job_rerun(job_id=JobFactory(status=S.RUNNING).pk, args=[1])
    with pytest.raises(ValidationFailed):
        services.job_rerun(job_id=JobFactory(status=S.FAILED, actor_name="jobs.prune").pk, kwargs={})
    assert Job.objects.filter(rerun_of__isnull=False).count() == 0
    assert not AuditEntry.objects.exists()


def test_the_api_reruns_and_shows_the_link_both_ways(staff_client):
    original = JobFactory(status=S.SUCCEEDED, actor_name="echo", args=[1])
    response = staff_client.post(f"/api/v1/jobs/{original.pk}/rerun", {"kwargs": {"x": 1}}, format="json")
    assert response.status_code == 201, response.content
    copy_id = response.json()["id"]
    assert response.json()["rerun_of_id"] == str(original.pk)
    assert staff_client.get(f"/api/v1/jobs/{original.pk}").json()["reruns"] == [copy_id]
    assert staff_client.get(f"/api/v1/jobs/{copy_id}").json()["args"] == [1]
    refused = staff_client.post(f"/api/v1/jobs/{original.pk}/rerun", {"args": {"not": "a list"}}, format="json")
    assert refused.status_code == 400
    busy = staff_client.post(f"/api/v1/jobs/{JobFactory(status=S.QUEUED).pk}/rerun", {}, format="json")
    assert busy.status_code == 409


def test_the_rerun_page_shows_errors_in_the_form_and_links_the_copy(staff_browser):
    original = JobFactory(status=S.FAILED, actor_name="countdown", kwargs={"seconds": 1})
    page = staff_browser.get(f"/jobs/{original.pk}/rerun")
    assert page.status_code == 200 and b"&quot;seconds&quot;: 1" in page.content
    bad = staff_browser.post(f"/jobs/{original.pk}/rerun", {"args": "[", "kwargs": "{}"})
    assert bad.status_code == 200 and b"Not valid JSON" in bad.content
    wrong = staff_browser.post(f"/jobs/{original.pk}/rerun", {"args": "[]", "kwargs": '{"nope": 1}'})
    assert wrong.status_code == 200 and b"nope" in wrong.content
    done = staff_browser.post(f"/jobs/{original.pk}/rerun", {"args": "[]", "kwargs": '{"seconds": 2}'})
    copy = Job.objects.get(rerun_of=original)
    assert done.status_code == 302 and done["Location"] == f"/jobs/{copy.pk}/"
    assert copy.kwargs == {"seconds": 2}
    detail = staff_browser.get(f"/jobs/{original.pk}/").content.decode()
    assert str(copy.pk) in detail and "job.rerun" in detail  # the re-run, and its audit row
    assert str(original.pk) in staff_browser.get(f"/jobs/{copy.pk}/").content.decode()
