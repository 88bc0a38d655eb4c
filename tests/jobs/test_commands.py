import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs.models import Job, JobStatus
from tests.factories import JobFactory

S = JobStatus


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_submit_job_creates_a_job_with_its_options():
    output = run(
        "submit_job", "echo", "--args", "[1, 2]", "--kwargs", '{"a": 1}', "--queue", "reports", "--priority", "3"
    )
    job = Job.objects.get()
    assert str(job.id) in output
    assert (job.args, job.kwargs, job.queue_name, job.priority) == ([1, 2], {"a": 1}, "reports", 3)


@pytest.mark.django_db
def test_submit_job_refuses_bad_input_and_writes_nothing():
    with pytest.raises(CommandError, match="Unknown actor"):
        run("submit_job", "nope")
    with pytest.raises(CommandError, match="JSON"):
        run("submit_job", "echo", "--args", "[1,")
    with pytest.raises(CommandError, match="ISO 8601"):
        run("submit_job", "echo", "--eta", "tomorrow")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_jobs_stats_prints_counts():
    JobFactory(status=S.FAILED)
    JobFactory(status=S.QUEUED, queue_name="scans")
    assert json.loads(run("jobs_stats", "--json"))["by_status"]["failed"] == 1
    assert "scans" in run("jobs_stats")


@pytest.mark.django_db
def test_retry_failed_retries_dead_jobs_of_one_actor():
    JobFactory(status=S.FAILED, actor_name="countdown")
    JobFactory(status=S.FAILED, actor_name="echo")
    assert "Retried 1" in run("retry_failed", "--actor", "countdown")
    assert Job.objects.get(actor_name="countdown").status in (S.PENDING, S.QUEUED)
    assert Job.objects.get(actor_name="echo").status == S.FAILED


@pytest.mark.django_db
def test_prune_jobs_deletes_old_finished_jobs():
    JobFactory(status=S.SUCCEEDED, finished_at=timezone.now() - timedelta(days=10))
    JobFactory(status=S.SUCCEEDED, finished_at=timezone.now())
    assert "Deleted 1" in run("prune_jobs", "--older-than-days", "7")
    assert Job.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--args", '["a\\u0000"]'], "NUL"),
        (["--kwargs", '{"k": "\\ud800"}'], "lone surrogate"),
        (["--priority", "40000"], "priority must be a whole number from -100 to 100"),
        (["--eta", "2030-13-45T00:00:00Z"], "ISO 8601"),
        (["--eta", "2030-01-01T00:00:00"], "time zone"),
    ],
)
def test_submit_job_refuses_what_used_to_crash_it(options, message):
    with pytest.raises(CommandError, match=message):
        run("submit_job", "echo", *options)
    with pytest.raises(CommandError, match="seconds"):
        run("submit_job", "countdown", "--args", '["ten"]')
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_submit_job_may_run_internal_actors_for_operators():
    run("submit_job", "jobs.prune", "--kwargs", '{"older_than_days": 90}')
    assert Job.objects.get().actor_name == "jobs.prune"
