"""The dashboard in a real browser: Playwright driving Debian's Chromium against a live server.

Skipped, loudly, only where /usr/bin/chromium is missing (``make test`` installs it where apt exists).
"""

import json
import os
import urllib.request
from pathlib import Path

import pytest
from django.urls import reverse

from jobs.models import Job, JobStatus
from tests.factories import JobFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MISSING = (
    "!!! BROWSER TESTS SKIPPED: /usr/bin/chromium is missing. Install Debian's chromium package "
    "(`make browser`, or apt-get install chromium) to run the dashboard's browser tests. !!!"
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


def log_in(page, live_server, username, password):
    page.goto(live_server.url + reverse("jobs:login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#sign-in")
    page.wait_for_url(live_server.url + "/")


def test_log_in_and_the_overview_renders_its_chart(page, live_server, staff_user):
    from django.utils import timezone

    now = timezone.now()
    JobFactory(status=JobStatus.SUCCEEDED, started_at=now, finished_at=now, attempts=1)
    JobFactory(status=JobStatus.FAILED, started_at=now, finished_at=now, attempts=1)
    log_in(page, live_server, "staff", "pw-staff-123")
    chart = page.locator("svg.chart").first
    chart.wait_for(state="visible")
    assert chart.bounding_box()["width"] > 200
    assert page.locator("svg.chart rect.ok-bar").count() >= 1
    assert page.locator("svg.chart rect.fail-bar").count() >= 1


def test_a_job_submitted_through_the_api_appears_and_turns_succeeded_without_a_reload(
    page, live_server, staff_user, start_worker
):
    from rest_framework.authtoken.models import Token

    start_worker(processes=1, threads=2)
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:list"))
    page.evaluate("window.__notReloaded = true")

    request = urllib.request.Request(
        live_server.url + "/api/v1/jobs",
        data=json.dumps({"actor": "echo", "args": ["from the browser test"]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {Token.objects.create(user=staff_user)}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        job_id = json.load(response)["id"]

    row = page.locator(f'tr[data-job="{job_id}"]')
    row.wait_for(state="attached", timeout=20000)
    row.locator(".status-succeeded").wait_for(state="visible", timeout=30000)
    assert page.evaluate("window.__notReloaded") is True
    assert Job.objects.get(pk=job_id).status == JobStatus.SUCCEEDED


def test_a_dead_job_is_retried_from_its_detail_page(page, live_server, staff_user):
    dead = JobFactory(status=JobStatus.FAILED, actor_name="echo", attempts=4, error_type="KeyError")
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:detail", args=[dead.pk]))
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.click("#retry-button")
    page.locator(".messages li.success").wait_for(state="visible")
    dead.refresh_from_db()
    assert dead.status != JobStatus.FAILED and dead.max_attempts > 4
    assert page.locator("#retry-button").count() == 0
    assert questions == ["Run this job again?"]


def test_cancel_asks_first_and_a_no_leaves_the_job_alone(page, live_server, staff_user):
    waiting = JobFactory(status=JobStatus.QUEUED)
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:detail", args=[waiting.pk]))
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#cancel-button")
    page.wait_for_timeout(500)
    waiting.refresh_from_db()
    assert waiting.status == JobStatus.QUEUED


def test_no_page_breaks_the_content_security_policy(page, live_server, staff_user):
    """Chromium reports every blocked inline script, handler or foreign asset on the console."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk=staff_user.pk).update(is_superuser=True)
    dead = JobFactory(status=JobStatus.FAILED, actor_name="echo", error_type="KeyError")
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    log_in(page, live_server, "staff", "pw-staff-123")
    for url in (
        reverse("jobs:overview"),
        reverse("jobs:list"),
        reverse("jobs:detail", args=[dead.pk]),
        reverse("jobs:dead_letters"),
        reverse("jobs:schedules"),
        reverse("jobs:workers"),
        reverse("jobs:metrics"),
        reverse("jobs:health"),
        reverse("jobs:audit"),
        reverse("jobs:rerun", args=[dead.pk]),
        reverse("jobs:schedule_new"),
        reverse("jobs:bulk_confirm") + "?action=retry&actor=echo",
        reverse("reports:list"),
        reverse("admin:index"),
        reverse("admin:jobs_job_changelist"),
        reverse("admin:jobs_schedule_add"),
        "/api/docs/",
    ):
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
    page.goto(live_server.url + "/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for(state="visible")  # the UI ran: its script is allowed
    assert violations == []


def test_the_metrics_page_charts_a_queue_over_a_chosen_window(page, live_server, staff_user):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.metrics import services as metric_services

    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=2)
    for n, (queue, status) in enumerate([("scans", JobStatus.SUCCEEDED)] * 3 + [("scans", JobStatus.FAILED)]):
        at = minute + timedelta(seconds=n)
        JobFactory(
            queue_name=queue, actor_name="scans.run", status=status, enqueued_at=at, started_at=at, finished_at=at
        )
    JobFactory(
        queue_name="default", status=JobStatus.SUCCEEDED, enqueued_at=minute, started_at=minute, finished_at=minute
    )
    metric_services.metrics_rollup()

    log_in(page, live_server, "staff", "pw-staff-123")
    page.click("nav >> text=Metrics")
    page.wait_for_url("**/charts/")
    page.select_option("#metrics-filter select[name=window]", "1h")
    page.select_option("#metrics-filter select[name=queue]", "scans")
    page.click("#metrics-filter button[type=submit]")
    page.wait_for_url("**queue=scans**")
    assert page.locator("#metric-succeeded").inner_text() == "3"
    assert page.locator("#metric-failed").inner_text() == "1"
    chart = page.locator("#throughput-chart svg.chart")
    assert chart.bounding_box()["width"] > 200
    assert page.locator("#throughput-chart rect.ok-bar").count() >= 1
    assert page.locator("#throughput-chart rect.fail-bar").count() >= 1
    assert page.locator("#metric-queues tr").filter(has_text="scans").count() == 1


def test_a_read_only_user_sees_no_action_buttons(page, live_server, reader_user):
    dead = JobFactory(status=JobStatus.FAILED, actor_name="echo", error_type="KeyError")
    JobFactory(status=JobStatus.QUEUED)
    log_in(page, live_server, "reader", "pw-reader-123")
    for url in (
        reverse("jobs:overview"),
        reverse("jobs:list"),
        reverse("jobs:detail", args=[dead.pk]),
        reverse("jobs:dead_letters"),
        reverse("jobs:schedules"),
    ):
        page.goto(live_server.url + url)
        assert page.locator("main form[method=post], main button.act, #retry-button, #cancel-button").count() == 0, url
        assert "(read-only)" in page.locator("header").inner_text()


def test_auto_refresh_pauses_while_rows_are_selected(page, live_server, staff_user):
    JobFactory(status=JobStatus.QUEUED)
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:list"))
    page.locator("#job-table input[name=ids]").first.check()
    # A locator, not wait_for_function: the page's CSP forbids the eval that one would need.
    page.locator("[data-live-state]", has_text="paused").wait_for(timeout=10000)
    assert page.locator("#job-table input[name=ids]:checked").count() == 1  # not replaced under the user


def test_a_job_submitted_from_the_form_with_typed_parameters_succeeds(page, live_server, staff_user, start_worker):
    start_worker(processes=1, threads=2)
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:list"))
    page.click("#submit-link")
    page.select_option("#actor-select", "t.typed")
    page.click("#choose-actor")
    page.fill("#p_count", "4")
    page.fill("#p_ratio", "2.5")
    page.select_option("#p_loud", "true")
    page.click("#submit-job")
    page.wait_for_url(live_server.url + "/jobs/*/")
    job = Job.objects.get(actor_name="t.typed")
    assert page.url.endswith(f"/jobs/{job.pk}/")
    page.locator(".status-succeeded").first.wait_for(state="visible", timeout=30000)
    page.locator("#job-result", has_text="TOTAL: 10.0").wait_for(state="visible", timeout=10000)
    job.refresh_from_db()
    assert (job.status, job.kwargs) == (JobStatus.SUCCEEDED, {"count": 4, "ratio": 2.5, "loud": True})


# --- Operator pages: bulk by filter, re-run, schedules, audit ---------------------------------------


def test_retry_all_matching_from_the_jobs_list_counts_every_page_and_starts_one_job(page, live_server, staff_user):
    for _ in range(30):
        JobFactory(status=JobStatus.FAILED, actor_name="echo")
    JobFactory(status=JobStatus.FAILED, actor_name="demo.flaky")
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:list") + "?actor=echo&size=20")
    page.select_option("#bulk-filter-form select[name=action]", "retry")
    page.click("#bulk-filter-button")
    page.locator("h1", has_text="Retry all 30 matching jobs?").wait_for(state="visible")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.click("#bulk-apply")
    page.locator(".messages li.success").wait_for(state="visible")
    bulk = Job.objects.get(actor_name="jobs.bulk")
    assert page.url.endswith(reverse("jobs:detail", args=[bulk.pk]))
    assert bulk.kwargs == {"action": "retry", "filters": {"actor": "echo"}}
    assert questions == ["Retry 30 job(s)? This cannot be undone."]
    assert "jobs.bulk_retry" in page.locator("table.audit-table").inner_text()


def test_a_failed_job_is_run_again_with_edited_arguments(page, live_server, staff_user):
    dead = JobFactory(status=JobStatus.FAILED, actor_name="echo", args=[1])
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:detail", args=[dead.pk]))
    page.click("#rerun-link")
    page.fill("textarea[name=args]", "[1")
    page.click("#rerun-submit")
    page.locator(".bad", has_text="Not valid JSON").wait_for(state="visible")
    page.fill("textarea[name=args]", '["edited"]')
    page.click("#rerun-submit")
    page.locator("#rerun-of").wait_for(state="visible")
    copy = Job.objects.get(rerun_of=dead)
    assert copy.args == ["edited"] and page.url.endswith(reverse("jobs:detail", args=[copy.pk]))
    page.click("#rerun-of")
    page.locator("table#job-table", has_text="echo").wait_for(state="visible")  # the original lists its re-run


def test_a_schedule_is_created_in_the_dashboard_with_its_fire_times_previewed(page, live_server, staff_user):
    from jobs.scheduling.models import Schedule

    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:schedules"))
    page.click("#new-schedule")
    page.fill("input[name=name]", "browser-nightly")
    page.fill("input[name=actor_name]", "echo")
    page.fill("input[name=cron]", "99 3 * * *")
    page.click("#schedule-save")
    page.locator(".field-error").first.wait_for(state="visible")
    page.fill("input[name=cron]", "30 3 * * *")
    page.click("#schedule-preview")
    page.locator("#fire-times li", has_text="03:30:00").first.wait_for(state="visible")
    assert page.locator("#fire-times li").count() == 5
    assert not Schedule.objects.filter(name="browser-nightly").exists()
    page.click("#schedule-save")
    page.locator(".messages li.success").wait_for(state="visible")
    assert Schedule.objects.get(name="browser-nightly").cron == "30 3 * * *"


def test_the_audit_page_shows_who_retried_a_job(page, live_server, staff_user):
    dead = JobFactory(status=JobStatus.FAILED, actor_name="echo")
    log_in(page, live_server, "staff", "pw-staff-123")
    page.goto(live_server.url + reverse("jobs:detail", args=[dead.pk]))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#retry-button")
    page.locator(".messages li.success").wait_for(state="visible")
    page.click("header a:text-is('Audit')")
    page.select_option("select[name=action]", "job.retry")
    page.click("form.filters button[type=submit]")
    row = page.locator("table.audit-table tr[data-audit]")
    row.first.wait_for(state="visible")
    assert row.count() == 1 and "staff" in row.inner_text() and "job.retry" in row.inner_text()
