"""The worker detail and actors pages in a real browser (fixtures of tests/dashboard/test_browser.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import JobStatus, Worker, WorkerHost
from tests.dashboard.test_browser import CHROMIUM, MISSING, browser, log_in, page  # noqa: F401 (fixtures)
from tests.factories import JobFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]
WORKER_ID = "web-1:4242:c0ffee/4243"


def test_a_worker_opens_from_the_workers_page_and_its_memory_refreshes_live(page, live_server, staff_user):  # noqa: F811
    host = WorkerHost.objects.create(id="web-1:4242:c0ffee", hostname="web-1", pid=4242, queues=["default"])
    Worker.objects.create(
        id=WORKER_ID,
        host=host,
        hostname="web-1",
        pid=4243,
        queues=["default", "scans"],
        threads=6,
        rss_bytes=64 * 1024 * 1024,
        running_jobs=1,
    )
    now = timezone.now()
    Worker.objects.filter(pk=WORKER_ID).update(started_at=now - timedelta(minutes=5))
    running = JobFactory(
        status=JobStatus.RUNNING, actor_name="countdown", worker_id=WORKER_ID, attempts=1, started_at=now
    )
    JobFactory(
        status=JobStatus.SUCCEEDED,
        actor_name="echo",
        worker_id=WORKER_ID,
        attempts=1,
        started_at=now - timedelta(seconds=3),
        finished_at=now - timedelta(seconds=2),
        cpu_seconds=0.125,
        peak_rss_bytes=70 * 1024 * 1024,
    )
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server, "staff", "pw-staff-123")

    page.goto(live_server.url + "/workers/")
    assert "web-1:4242:c0ffee" in page.locator("#worker-pools").inner_text()
    page.click("a[data-worker-link]")
    page.wait_for_url(f"**/workers/{WORKER_ID}/")
    facts = page.locator("#worker-facts")
    assert facts.locator("[data-pid]").inner_text() == "4243"
    assert facts.locator("[data-queues]").inner_text() == "default, scans"
    assert facts.locator("[data-state]").inner_text().startswith("live")
    assert "64.0" in facts.locator("[data-memory]").inner_text()
    assert "countdown" in page.locator("#current-jobs").inner_text()
    recent = page.locator("#recent-attempts").inner_text()
    assert "echo" in recent and "0.125 s" in recent

    # The page refreshes its live region by itself: the next report of the worker shows up.
    Worker.objects.filter(pk=WORKER_ID).update(rss_bytes=128 * 1024 * 1024, heartbeat_at=timezone.now())
    page.locator("[data-memory]", has_text="128.0").wait_for(timeout=20000)
    page.click(f"#current-jobs a[href='/jobs/{running.pk}/']")
    page.wait_for_url(f"**/jobs/{running.pk}/")

    page.goto(live_server.url + "/actors/")
    page.locator("tr[data-actor='echo']").wait_for()
    assert "0.1250 s" in page.locator("tr[data-actor='echo']").inner_text()
    assert violations == []
