"""The Monitoring pages: rendering, the live panel, permissions, actions through the services."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from jobs import registry
from jobs.models import Job
from monitoring import scans
from monitoring.models import Rule, ScanMode, Violation
from tests.monitoring.conftest import load_records, make_policy

pytestmark = pytest.mark.django_db
RULES = [
    {"field": "amount", "operator": "lte", "value": 1000, "value_type": "number", "message": "Amount at most 1000"},
    {"field": "approver", "operator": "is_not_empty"},
]


@pytest.fixture
def scanned(db):
    policy, rules = make_policy(rules=RULES)
    load_records([{"amount": 500 + 300 * i, "approver": "ann" if i % 2 else ""} for i in range(6)])
    scans.scan_execute(mode=ScanMode.FULL)
    return policy, rules


def pages(policy):
    violation = Violation.objects.first()
    return [
        reverse("monitoring:overview"),
        reverse("monitoring:violations"),
        reverse("monitoring:violation", args=[violation.pk]),
        reverse("monitoring:policy", args=[policy.pk]),
    ]


def test_pages_need_a_login_and_render_for_readers(scanned, reader_browser):
    policy, _ = scanned
    for url in pages(policy):
        assert Client().get(url).status_code == 302
        response = reader_browser.get(url)
        assert response.status_code == 200, url
        assert b"Scan now" not in response.content and b"bulk-form" not in response.content


def test_the_panel_shows_the_last_scan_and_refreshes_alone(scanned, staff_browser):
    response = staff_browser.get(reverse("monitoring:overview"))
    html = response.content.decode()
    assert 'data-every="30"' in html and "Scan now" in html and "Last scan: 6 records × 2 rules" in html
    partial = staff_browser.get(reverse("monitoring:overview"), {"partial": "1"}).content.decode()
    assert "<html" not in partial and 'id="monitoring-panel"' in partial


def test_scan_now_submits_one_scan_and_readers_may_not(scanned, staff_browser, reader_browser):
    assert reader_browser.post(reverse("monitoring:scan_now")).status_code == 403
    staff_browser.post(reverse("monitoring:scan_now"))
    staff_browser.post(reverse("monitoring:scan_now"))
    from jobs.models import Job

    assert Job.objects.filter(actor_name="monitoring.scan_violations").count() == 1


def test_violations_filter_and_bulk_acknowledge(scanned, staff_browser):
    policy, (amount_rule, approver_rule) = scanned
    listed = staff_browser.get(reverse("monitoring:violations"), {"rule": amount_rule.pk}).content.decode()
    ids = list(Violation.objects.filter(rule=amount_rule).values_list("id", flat=True))
    assert all(f'data-violation="{i}"' in listed for i in ids)
    assert all(
        f'data-violation="{v}"' not in listed
        for v in Violation.objects.filter(rule=approver_rule).values_list("id", flat=True)
    )
    staff_browser.post(reverse("monitoring:violations_bulk"), {"ids": ids, "action": "acknowledge"})
    assert set(Violation.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"acknowledged"}


def test_violation_page_shows_evidence_record_and_history_and_acts(scanned, staff_browser):
    violation = Violation.objects.filter(rule__field="amount").first()
    html = staff_browser.get(reverse("monitoring:violation", args=[violation.pk])).content.decode()
    assert "Amount at most 1000" in html and "History" in html and str(violation.evidence["actual"]) in html
    staff_browser.post(reverse("monitoring:violation_action", args=[violation.pk]), {"action": "mute", "reason": "ok"})
    violation.refresh_from_db()
    assert violation.status == "muted" and violation.note == "ok"


def test_policy_page_previews_and_toggles_rules(scanned, staff_browser, reader_browser):
    policy, (amount_rule, _) = scanned
    html = reader_browser.post(reverse("monitoring:rule_preview", args=[amount_rule.pk])).content.decode()
    assert 'id="preview"' in html and "0 would open" in html
    assert reader_browser.post(reverse("monitoring:rule_toggle", args=[amount_rule.pk])).status_code == 403
    staff_browser.post(reverse("monitoring:rule_toggle", args=[amount_rule.pk]))
    assert Rule.objects.get(pk=amount_rule.pk).enabled is False


def test_actions_need_csrf(scanned, staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post(reverse("monitoring:scan_now")).status_code == 403


def test_query_counts_do_not_grow_with_violations(scanned, staff_browser, django_assert_max_num_queries):
    load_records([{"amount": 5000, "approver": ""} for _ in range(200)], source="more")
    scans.scan_execute(mode=ScanMode.FULL)
    for url in (reverse("monitoring:overview"), reverse("monitoring:violations")):
        with django_assert_max_num_queries(25):
            assert staff_browser.get(url).status_code == 200


def test_policy_page_previews_another_value_without_saving_it(scanned, reader_browser):
    policy, (amount_rule, _) = scanned
    html = reader_browser.post(reverse("monitoring:rule_preview", args=[amount_rule.pk]), {"value": "1500"})
    text = html.content.decode()
    assert "amount must be at most 1500" in text and "2 would resolve" in text
    assert Rule.objects.get(pk=amount_rule.pk).value == 1000


INLINE_HANDLER = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def test_pages_highlight_monitoring_name_the_time_zone_and_are_not_cached(scanned, reader_browser):
    policy, _ = scanned
    for url in pages(policy):
        response = reader_browser.get(url)
        html = response.content.decode()
        assert re.findall(r'<a href="[^"]*" class="here">([^<]*)</a>', html) == ["Monitoring"], url
        assert "no-store" in response["Cache-Control"], url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        assert not INLINE_HANDLER.search(response.content), url  # the CSP refuses inline handlers
    violation = reader_browser.get(pages(policy)[2]).content.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", violation)  # the first seen, with its zone
    assert re.search(r"First seen \(UTC\)", reader_browser.get(pages(policy)[1]).content.decode())


def test_the_api_is_not_cached(scanned, reader_client):
    for url in ("/api/v1/monitoring/status", "/api/v1/monitoring/violations", "/api/v1/monitoring/policies"):
        response = reader_client.get(url)
        assert response.status_code == 200 and "no-store" in response["Cache-Control"], url


def test_the_monitoring_actors_are_internal(staff_client):
    names = ("monitoring.continuous_scan", "monitoring.scan_violations", "monitoring.extract_rules")
    assert all(registry.get_spec(name).internal for name in names)
    for name in names:
        response = staff_client.post("/api/v1/jobs", {"actor": name, "kwargs": {}}, format="json")
        assert response.status_code == 400, response.content
    assert not Job.objects.filter(actor_name__in=names).exists()
