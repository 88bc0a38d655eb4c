"""The monitoring API: bad input is a 400 naming the rule field with nothing written; scans; actions."""

import io

import pytest
from django.utils import timezone

from jobs.models import Job
from monitoring import scans
from monitoring.models import Policy, Record, Rule, ScanMode, Violation, ViolationEvent, Waiver
from tests.monitoring.conftest import load_records, make_policy

pytestmark = pytest.mark.django_db
API = "/api/v1/monitoring"

RULES = [
    {"field": "amount", "operator": "lte", "value": 1000, "value_type": "number"},
    {"field": "approver", "operator": "is_not_empty"},
]


@pytest.fixture
def scanned(db):
    policy, rules = make_policy(rules=RULES)
    load_records([{"amount": 500 + 300 * i, "approver": "ann" if i % 2 else ""} for i in range(6)])
    scans.scan_execute(mode=ScanMode.FULL)
    return policy, rules


BAD_RULES = [
    ({"operator": "roughly", "field": "amount", "value": 1}, "operator", "unknown operator"),
    ({"operator": "lte", "field": "amount", "value": "lots", "value_type": "number"}, "value", "not a number"),
    ({"operator": "lte", "field": "amount", "value": 5}, "value_type", "is required"),
    ({"operator": "lte", "field": "amount", "value": 5, "value_type": "list"}, "value_type", "does not fit"),
    ({"operator": "equals", "field": "amount..x", "value": 5, "value_type": "number"}, "field", "not a path"),
    ({"operator": "equals", "field": "a b", "value": 5, "value_type": "number"}, "field", "not a path"),
    ({"operator": "matches", "field": "email", "value": "([a-z", "value_type": "string"}, "value", "does not compile"),
    ({"operator": "matches", "field": "email", "value": "(a+)+$", "value_type": "string"}, "value", "nested"),
    ({"operator": "matches", "field": "email", "value": "a" * 201, "value_type": "string"}, "value", "longer than"),
    ({"operator": "equals", "field": "due", "value": "2024-02-30", "value_type": "date"}, "value", "ISO 8601"),
    ({"operator": "between", "field": "amount", "value": [9, 1], "value_type": "number"}, "value", "low end"),
    ({"operator": "in", "field": "country", "value": ["US", 1]}, "value", "all strings or all numbers"),
    ({"operator": "within_last", "field": "d", "value": 2.5}, "value", "whole number of days"),
    ({"operator": "exists", "field": "x", "value": 3}, "value", "takes no value"),
    ({"operator": "any", "conditions": []}, "conditions", "non-empty list"),
    (
        {"operator": "any", "conditions": [{"field": "a", "operator": "exists"}, {"field": "b", "operator": "gt"}]},
        "conditions[1].value_type",
        "is required",
    ),
]


BAD_RULE_BODIES = [  # raw JSON: escapes a test client's encoder would refuse to write
    ('{"operator": "equals", "field": "a", "value": "x\\u0000y", "value_type": "string"}', "value", "NUL"),
    ('{"operator": "in", "field": "a", "value": ["ok", "\\ud800"], "value_type": "list"}', "value", "surrogate"),
    (
        '{"operator": "any", "conditions": [{"field": "a", "operator": "exists"}, '
        '{"field": "b", "operator": "contains", "value": "\\u0000", "value_type": "string"}]}',
        "conditions[1].value",
        "NUL",
    ),
]


@pytest.mark.parametrize(("raw", "field", "reason"), BAD_RULE_BODIES, ids=[b[1] + ":" + b[2] for b in BAD_RULE_BODIES])
def test_a_rule_string_postgresql_cannot_store_is_a_400_naming_the_field(staff_client, raw, field, reason):
    policy = Policy.objects.create(name="P")
    body = '{"policy_id": ' + str(policy.pk) + ", " + raw[1:]
    response = staff_client.post(f"{API}/rules", data=body.encode(), content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["details"]["field"] == field and reason in error["details"]["reason"], error
    assert not Rule.objects.exists()


@pytest.mark.parametrize(("body", "field", "reason"), BAD_RULES, ids=[b[1] + ":" + b[2] for b in BAD_RULES])
def test_a_bad_rule_is_a_400_naming_the_field_and_nothing_is_written(staff_client, body, field, reason):
    policy = Policy.objects.create(name="P")
    response = staff_client.post(f"{API}/rules", {"policy_id": policy.pk, **body}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["details"]["field"] == field and reason in error["details"]["reason"], error
    assert field in error["message"]
    assert not Rule.objects.exists()
    policy.refresh_from_db()
    assert policy.version == 1


def test_a_bad_change_to_an_existing_rule_writes_nothing(staff_client, scanned):
    policy, (amount_rule, _) = scanned
    policy.refresh_from_db()
    response = staff_client.patch(f"{API}/rules/{amount_rule.pk}", {"value": "x"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"]["field"] == "value"
    amount_rule.refresh_from_db()
    assert amount_rule.value == 1000 and Policy.objects.get(pk=policy.pk).version == policy.version


def test_rules_crud_bumps_the_policy_version(staff_client):
    policy = staff_client.post(f"{API}/policies", {"name": "AP", "severity": "high"}, format="json").json()
    created = staff_client.post(
        f"{API}/rules",
        {"policy_id": policy["id"], "field": "items[0].qty", "operator": "gte", "value": "1", "value_type": "number"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["value"] == 1
    rule_id = created.json()["id"]
    assert staff_client.patch(f"{API}/rules/{rule_id}", {"enabled": False}, format="json").json()["enabled"] is False
    assert staff_client.get(f"{API}/policies/{policy['id']}").json()["version"] == 3
    assert staff_client.delete(f"{API}/rules/{rule_id}").status_code == 204
    assert staff_client.get(f"{API}/rules/{rule_id}").status_code == 404
    duplicate = staff_client.post(f"{API}/policies", {"name": "AP"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["error"]["details"]["field"] == "name"


def test_readers_read_but_may_not_write(reader_client, scanned):
    assert reader_client.get(f"{API}/violations").status_code == 200
    assert reader_client.post(f"{API}/scan", {}, format="json").status_code == 403
    assert reader_client.post(f"{API}/policies", {"name": "x"}, format="json").status_code == 403
    violation = Violation.objects.first()
    assert reader_client.post(f"{API}/violations/{violation.pk}/resolve", {}, format="json").status_code == 403


def test_a_second_scan_request_returns_the_live_job(staff_client, scanned):
    policy, _ = scanned
    first = staff_client.post(f"{API}/scan", {"policy_id": policy.pk}, format="json")
    second = staff_client.post(f"{API}/scan", {"policy_id": policy.pk}, format="json")
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["created"] is False and second.json()["job"]["id"] == first.json()["job"]["id"]
    other = staff_client.post(f"{API}/scan", {}, format="json")  # all policies: another scope
    assert other.status_code == 202 and other.json()["job"]["id"] != first.json()["job"]["id"]
    job = Job.objects.get(pk=first.json()["job"]["id"])
    assert (job.actor_name, job.queue_name, job.kwargs) == (
        "monitoring.scan_violations",
        "scans",
        {"policy_id": policy.pk},
    )
    assert staff_client.post(f"{API}/scan", {"policy_id": 999}, format="json").status_code == 404
    jobs = staff_client.get(f"{API}/jobs", {"job_type": "full", "limit": 5}).json()
    assert {row["job"]["id"] for row in jobs} == {first.json()["job"]["id"], other.json()["job"]["id"]}


def test_status_reflects_the_last_scan(staff_client, scanned):
    result = scans.scan_execute(mode=ScanMode.FULL)
    status = staff_client.get(f"{API}/status").json()
    assert status["last_scan"]["id"] == result["scan_id"] and status["last_scan"]["status"] == "succeeded"
    assert status["last_scan"]["records_scanned"] == 6 and status["scans_today"] == 2
    assert status["violations"]["by_status"]["open"] == Violation.objects.filter(status="open").count()
    assert status["violations"]["open_by_severity"]["high"] == Violation.objects.count()
    assert status["schedule"]["interval_seconds"] == 300 and status["next_scheduled_scan"] is None
    assert status["monitoring_active"] is False  # no scheduler runs in this test
    assert staff_client.get(f"{API}/health").status_code in (200, 503)


def test_violation_actions_events_and_filters(staff_client, scanned, staff_user):
    policy, (amount_rule, approver_rule) = scanned
    violation = Violation.objects.filter(rule=amount_rule).first()
    url = f"{API}/violations/{violation.pk}"
    muted = staff_client.post(f"{url}/mute", {}, format="json")
    assert muted.status_code == 400 and muted.json()["error"]["details"]["field"] == "reason"
    assert (
        staff_client.post(f"{url}/acknowledge", {"reason": "looking"}, format="json").json()["status"] == "acknowledged"
    )
    assert staff_client.post(f"{url}/acknowledge", {}, format="json").status_code == 409
    assert staff_client.post(f"{url}/resolve", {"reason": "paid back"}, format="json").json()["status"] == "resolved"
    events = staff_client.get(f"{url}/events").json()
    assert [(e["from_status"], e["to_status"], e["user"]) for e in events] == [
        ("", "open", None),
        ("open", "acknowledged", "staff"),
        ("acknowledged", "resolved", "staff"),
    ]
    listed = staff_client.get(f"{API}/violations", {"status": "open", "rule": approver_rule.pk}).json()["results"]
    assert {v["rule_id"] for v in listed} == {approver_rule.pk} and all(v["status"] == "open" for v in listed)
    assert listed[0]["evidence"]["operator"] == "is_not_empty" and listed[0]["severity"] == "high"
    bulk = staff_client.post(
        f"{API}/violations/bulk", {"action": "acknowledge", "ids": [v["id"] for v in listed]}, format="json"
    )
    assert bulk.json() == {"changed": len(listed), "selected": len(listed)}
    # A manually resolved violation that still holds is reopened by the next scan.
    scans.scan_execute(mode=ScanMode.FULL)
    assert Violation.objects.get(pk=violation.pk).status == "open"
    assert Violation.objects.get(pk=violation.pk).reopened_count == 1


def test_waivers_validate_and_revoke(staff_client, scanned):
    policy, (amount_rule, _) = scanned
    later = (timezone.now() + timezone.timedelta(days=3)).isoformat()
    both = staff_client.post(
        f"{API}/waivers",
        {"policy_id": policy.pk, "rule_id": amount_rule.pk, "reason": "r", "owner": "o", "expires_at": later},
        format="json",
    )
    assert both.status_code == 400 and both.json()["error"]["details"]["field"] == "rule_id"
    bad_condition = staff_client.post(
        f"{API}/waivers",
        {"policy_id": policy.pk, "condition": {"operator": "nope"}, "reason": "r", "owner": "o", "expires_at": later},
        format="json",
    )
    assert bad_condition.json()["error"]["details"]["field"] == "condition.operator"
    past = staff_client.post(
        f"{API}/waivers",
        {"rule_id": amount_rule.pk, "reason": "r", "owner": "o", "expires_at": "2020-01-01T00:00:00Z"},
        format="json",
    )
    assert past.json()["error"]["details"]["field"] == "expires_at"
    assert not Waiver.objects.exists()
    created = staff_client.post(
        f"{API}/waivers", {"rule_id": amount_rule.pk, "reason": "r", "owner": "o", "expires_at": later}, format="json"
    )
    assert created.status_code == 201 and created.json()["active"] is True
    waived = staff_client.get(f"{API}/violations", {"waived": "true"}).json()["results"]
    assert {v["rule_id"] for v in waived} == {amount_rule.pk} and all(v["waived"] for v in waived)
    revoked = staff_client.delete(f"{API}/waivers/{created.json()['id']}").json()
    assert revoked["active"] is False and Waiver.objects.count() == 1


def test_preview_reports_what_would_open_and_resolve_and_writes_nothing(reader_client, scanned):
    policy, (amount_rule, _) = scanned
    events, violations = ViolationEvent.objects.count(), list(Violation.objects.values())
    # amounts 500..2000 step 300: at most 1000 → 1100..2000 violate (4); at most 1500 → 1700, 2000 (2).
    response = reader_client.post(f"{API}/rules/{amount_rule.pk}/preview", {"value": 1500}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["violating"], body["would_open"], body["would_resolve"], body["would_stay_open"]) == (2, 0, 2, 2)
    assert sorted(r["external_id"] for r in body["would_resolve_sample"]) == ["r2", "r3"]
    lower = reader_client.post(f"{API}/rules/{amount_rule.pk}/preview", {"value": 600}, format="json").json()
    assert (lower["would_open"], lower["would_resolve"]) == (1, 0)
    bad = reader_client.post(f"{API}/rules/{amount_rule.pk}/preview", {"operator": "zzz"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "operator"
    assert ViolationEvent.objects.count() == events and list(Violation.objects.values()) == violations


def upload(client, text: str, name: str, **fields):
    handle = io.BytesIO(text.encode())
    handle.name = name
    return client.post(f"{API}/records/upload", {"file": handle, **fields}, format="multipart")


def test_upload_imports_good_rows_reports_bad_ones_and_a_repeat_changes_nothing(staff_client):
    text = (
        '{"id": 1, "amount": 5}\nnot json\n[1, 2]\n{"amount": 3}\n{"id": "2", "amount": 7}\n\n{"id": 1, "amount": 6}\n'
    )
    first = upload(staff_client, text, "batch.jsonl", source="erp")
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["created"], body["error_count"]) == (2, 3)
    assert [e["line"] for e in body["errors"]] == [2, 3, 4]
    assert "not JSON" in body["errors"][0]["reason"] and "id" in body["errors"][2]["reason"]
    assert Record.objects.get(external_id="1").data == {"id": 1, "amount": 6}  # the later line wins
    stamps = dict(Record.objects.values_list("external_id", "updated_at"))
    again = upload(staff_client, text, "batch.jsonl", source="erp").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert dict(Record.objects.values_list("external_id", "updated_at")) == stamps
    csv_text = "ref,amount,approver\nA1,10,ann\nA2,,bob\n"
    csv_body = upload(staff_client, csv_text, "x.csv", source="erp", id_field="ref").json()
    assert csv_body["created"] == 2 and Record.objects.get(external_id="A2").data == {"ref": "A2", "approver": "bob"}
    no_id = upload(staff_client, csv_text, "x.csv", source="erp")
    assert no_id.status_code == 400 and no_id.json()["error"]["details"]["field"] == "id_field"
    unknown = upload(staff_client, csv_text, "x.txt", source="erp")
    assert unknown.status_code == 400 and unknown.json()["error"]["details"]["field"] == "format"


def test_rows_a_database_cannot_store_are_reported_and_never_sink_their_batch(staff_client):
    """NUL characters and unpaired surrogates (jsonb refuses both), nesting past the parser's
    depth, NaN: each is its line's error; the good rows of the same batch are imported."""
    lines = [
        '{"id": 1, "note": "ok"}',
        '{"id": 2, "note": "nul \\u0000 inside"}',
        '{"id": 3, "k\\u0000": 1}',
        '{"id": 4, "note": "half a pair \\ud800"}',
        '{"id": 5, "deep": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"id": 6, "amount": NaN}',
        '{"id": 7, "emoji": "\\ud83d\\ude00"}',
    ]
    response = upload(staff_client, "\n".join(lines) + "\n", "odd.jsonl", source="erp")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] == 2 and [e["line"] for e in body["errors"]] == [2, 3, 4, 5, 6], body
    reasons = [e["reason"] for e in body["errors"]]
    assert "NUL" in reasons[0] and "NUL" in reasons[1] and "surrogate" in reasons[2] and "deep" in reasons[3]
    assert Record.objects.get(external_id="7").data["emoji"] == "\U0001f600"
    csv_body = upload(staff_client, 'id,note\nA,"x\x00y"\nB,fine\n', "odd.csv", source="erp").json()
    assert csv_body["created"] == 1 and csv_body["errors"][0]["line"] == 2


def test_upload_over_the_size_limit_is_a_413(staff_client, settings):
    settings.FILE_UPLOAD_MAX_SIZE = 10
    response = upload(staff_client, '{"id": 1, "amount": 5}\n', "a.jsonl", source="erp")
    assert response.status_code == 413 and not Record.objects.exists()


def test_an_upload_declared_over_the_limit_is_a_413_before_its_body_is_read(staff_client, settings, monkeypatch):
    settings.FILE_UPLOAD_MAX_SIZE = 10
    read = []
    monkeypatch.setattr("rest_framework.request.Request._parse", lambda self: read.append(1) or ({}, {}))
    body = b"x" * (100 * 1024)
    response = staff_client.generic(
        "POST", f"{API}/records/upload", body, content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == 413 and response.json()["error"]["details"] == {"limit": 10}
    assert not read and not Record.objects.exists()


def test_record_detail_lists_its_violations_and_delete_marks_it(staff_client, scanned):
    record = Record.objects.get(external_id="r2")
    detail = staff_client.get(f"{API}/records/{record.pk}").json()
    assert {v["rule_id"] for v in detail["violations"]} == set(Rule.objects.values_list("id", flat=True))
    deleted = staff_client.delete(f"{API}/records/{record.pk}").json()
    assert deleted["deleted_at"] is not None
    assert record.external_id not in {r["external_id"] for r in staff_client.get(f"{API}/records").json()["results"]}


def test_health_shows_no_error_texts(reader_client):
    from unittest import mock

    down = {"status": "unavailable", "checks": {"database": {"ok": False, "detail": 'no server at "db.internal"'}}}
    with mock.patch("monitoring.selectors.system_health", return_value=down):
        response = reader_client.get(f"{API}/health")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "unavailable: see the server log"}
    assert b"db.internal" not in response.content


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("policies", {"name": "P2", "sources": [0]}, "sources"),  # not coerced to "0"
        ("policies", {"name": "   "}, "name"),
        ("policies", {"name": "P2", "enabled": "yes"}, "enabled"),
        ("rules", {"policy_id": "1", "operator": "exists", "field": "a"}, "policy_id"),
        ("rules", {"policy_id": 1, "operator": "exists", "field": "a", "conditions": None}, "conditions"),
        ("violations/bulk", {"action": "acknowledge", "ids": [1], "reason": 0}, "reason"),
        ("violations/bulk", {"action": "mute", "ids": [1]}, "reason"),
        ("waivers", {"policy_id": 1, "reason": "r", "owner": "o", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
    ],
)
def test_bodies_the_schema_refuses_are_400_naming_the_field(staff_client, path, body, field):
    policy_count = Policy.objects.count()
    response = staff_client.post(f"{API}/{path}", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["field"] == field
    assert Policy.objects.count() == policy_count and not Waiver.objects.exists()


def test_mute_needs_a_reason_and_extracting_from_no_text_is_a_409(staff_client, scanned):
    violation = Violation.objects.filter(status="open").first()
    assert staff_client.post(f"{API}/violations/{violation.pk}/mute", {}, format="json").status_code == 400
    muted = staff_client.post(f"{API}/violations/{violation.pk}/mute", {"reason": "known"}, format="json")
    assert muted.status_code == 200 and muted.json()["status"] == "muted"
    policy, _ = scanned
    response = staff_client.post(f"{API}/policies/{policy.pk}/extract_rules")
    assert response.status_code == 409 and response.json()["error"]["code"] == "policy_without_text"
    assert not Job.objects.filter(actor_name="monitoring.extract_rules").exists()


@pytest.mark.parametrize(
    "query",
    [{"status": ""}, {"cursor": "cD1ub3RhZGF0ZQ=="}, {"since": "2024-01-01T00:00:00"}, {"page_size": 501}],
    ids=["empty status", "tampered cursor", "no zone", "page too large"],
)
def test_violation_list_refuses_bad_parameters(reader_client, query):
    response = reader_client.get(f"{API}/violations", query)
    assert response.status_code in (400, 404), response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_paged_lists_are_documented_as_pages(staff_client):
    schema = staff_client.get("/api/schema/?format=json").json()
    for path, page in [("violations", "ViolationPageOutput"), ("records", "RecordPageOutput")]:
        answer = schema["paths"][f"{API}/{path}"]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"] == {"$ref": f"#/components/schemas/{page}"}
