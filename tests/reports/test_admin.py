"""The read-only admin pages of reports and stores."""

import pytest
from django.test import Client

from reports import services
from reports.models import Store


@pytest.fixture
def admin_browser(db, django_user_model):
    user = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client = Client()
    client.force_login(user)
    return client


def test_report_and_store_pages_render_read_only(admin_browser):
    services.seed_demo_data()
    report = services.report_request()
    assert admin_browser.get("/admin/reports/report/").status_code == 200
    page = admin_browser.get(f"/admin/reports/report/{report.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    store = Store.objects.first()
    assert admin_browser.get("/admin/reports/store/").status_code == 200
    assert admin_browser.get(f"/admin/reports/store/{store.pk}/change/").status_code == 200
    assert admin_browser.get("/admin/reports/report/add/").status_code == 403
