"""The reports dashboard pages."""

from django.test import Client

from reports import services
from reports.models import Report


def test_pages_need_a_login(db):
    response = Client().get("/reports/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_staff_see_the_trigger_buttons_and_readers_do_not(staff_browser, reader_browser):
    assert b"Store uptime report</button>" in staff_browser.get("/reports/").content
    page = reader_browser.get("/reports/")
    assert page.status_code == 200
    assert b"</button>" not in page.content


def test_staff_trigger_a_report_and_watch_it(staff_browser):
    response = staff_browser.post("/reports/trigger", {"kind": "store_uptime"})
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/{report.id}/"
    page = staff_browser.get(response["Location"])
    assert b'http-equiv="refresh"' in page.content and b"PENDING" in page.content


def test_readers_may_not_trigger(reader_browser):
    assert reader_browser.post("/reports/trigger", {"kind": "store_uptime"}).status_code == 403
    assert not Report.objects.exists()


def test_a_bad_period_comes_back_as_a_message(staff_browser):
    response = staff_browser.post("/reports/trigger", {"kind": "task_execution", "since": "yesterday"}, follow=True)
    assert response.content.count(b"since is not an ISO 8601 date and time.") == 1
    assert not Report.objects.exists()


def test_the_list_shows_past_reports_with_downloads(staff_browser, django_assert_max_num_queries):
    services.seed_demo_data()
    done = services.report_request()
    services.store_report_generate(report_id=done.id)
    for _ in range(5):
        services.report_request()
    with django_assert_max_num_queries(9):  # session, user, the reports with their jobs, four counts
        page = staff_browser.get("/reports/")
    assert page.status_code == 200
    assert f"/api/v1/reports/{done.id}/download".encode() in page.content
    assert page.content.count(b"PENDING") == 5
    detail = staff_browser.get(f"/reports/{done.id}/")
    assert b"Download the CSV" in detail.content and b'http-equiv="refresh"' not in detail.content


def test_readers_see_only_the_reports_they_requested(reader_browser, reader_user):
    hidden = services.report_request()
    mine = services.report_request(requested_by=reader_user)
    page = reader_browser.get("/reports/")
    assert str(mine.id).encode() in page.content and str(hidden.id).encode() not in page.content
    assert reader_browser.get(f"/reports/{hidden.id}/").status_code == 404
    assert reader_browser.get(f"/reports/{mine.id}/").status_code == 200


def test_an_unknown_report_page_is_404(reader_browser):
    assert reader_browser.get("/reports/not-a-report/").status_code == 404
