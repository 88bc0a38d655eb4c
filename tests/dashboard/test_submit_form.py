"""The dashboard's submission form: parameters from the actor's signature, the API's validation."""

import pytest

from jobs import validation
from jobs.models import Job, JobStatus
from jobs.registry import get_spec

pytestmark = pytest.mark.django_db
URL = "/jobs/submit/"


def test_parameters_come_from_the_signature():
    spec = get_spec("t.typed")
    params = {p.name: p for p in validation.actor_parameters(spec)}
    assert list(params) == ["count", "ratio", "label", "loud"]
    assert (params["count"].type_name, params["count"].required, params["count"].input) == ("int", True, "number")
    assert (params["label"].default_text, params["loud"].input) == ("total", "bool")
    assert (
        validation.actor_summary(spec)
        == "Multiplies a count by a ratio: a job with typed parameters for the submission form."
    )


def test_form_texts_become_typed_arguments():
    spec = get_spec("t.typed")
    args, kwargs = validation.form_call(spec, {"count": "3", "ratio": "0.5", "label": "", "loud": "true"})
    assert (args, kwargs) == ([], {"count": 3, "ratio": 0.5, "loud": True})
    with pytest.raises(validation.ValidationFailed, match="count must be int"):
        validation.form_call(spec, {"count": "three", "ratio": "1"})
    args, kwargs = validation.form_call(get_spec("echo"), {"args": "[1, 2]", "kwargs": '{"a": "b"}'})
    assert (args, kwargs) == ([1, 2], {"a": "b"})


def test_the_form_shows_the_actors_parameters(staff_browser):
    page = staff_browser.get(URL, {"actor": "t.typed"}).content.decode()
    for text in ('name="p_count"', 'type="number" step="1"', 'name="p_ratio"', 'step="any"', "Multiplies a count"):
        assert text in page
    assert "jobs.prune" not in page  # internal actors are not offered


def test_a_valid_submission_lands_on_the_new_job(staff_browser):
    response = staff_browser.post(
        URL, {"actor": "t.typed", "p_count": "4", "p_ratio": "2.5", "priority": "3", "idempotency_key": "form-1"}
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert (job.actor_name, job.kwargs, job.priority, job.idempotency_key) == (
        "t.typed",
        {"count": 4, "ratio": 2.5},
        3,
        "form-1",
    )
    assert job.status in (JobStatus.PENDING, JobStatus.QUEUED)


@pytest.mark.parametrize(
    "data,message",
    [
        ({"actor": "t.typed", "p_ratio": "2", "priority": "0"}, "missing a required argument: &#x27;count&#x27;"),
        ({"actor": "t.typed", "p_count": "1.5", "p_ratio": "2", "priority": "0"}, "count must be int"),
        ({"actor": "jobs.prune", "priority": "0"}, "is internal"),
        ({"actor": "t.typed", "p_count": "1", "p_ratio": "2", "priority": "500"}, "priority"),
    ],
)
def test_an_invalid_submission_is_refused_with_the_reason(staff_browser, data, message):
    response = staff_browser.post(URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_readers_get_no_form(reader_browser):
    assert reader_browser.get(URL).status_code == 403
    assert reader_browser.post(URL, {"actor": "echo", "priority": "0"}).status_code == 403
    assert "submit-link" not in reader_browser.get("/jobs/").content.decode()
    assert not Job.objects.exists()


def test_an_eta_from_the_form_schedules_the_job(staff_browser):
    response = staff_browser.post(
        URL, {"actor": "t.typed", "p_count": "1", "p_ratio": "1", "priority": "0", "eta": "2099-01-01T10:00"}
    )
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.eta.isoformat() == "2099-01-01T10:00:00+00:00"
    assert job.status == JobStatus.SCHEDULED
