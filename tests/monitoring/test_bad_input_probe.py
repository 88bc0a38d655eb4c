"""Bad input a probe found in the monitoring API and import: a 400 naming the field (or a bad row with
its line), in the one error shape, with nothing lost; never a 500."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from jobs.errors import PermanentError
from monitoring import demo, scans
from monitoring import rules as R
from monitoring.actors import scan_violations_task
from monitoring.models import Record, Rule, ScanMode, ScanRun, ScanStatus, Violation, Waiver
from tests.monitoring.conftest import load_records, make_policy

pytestmark = pytest.mark.django_db
API = "/api/v1/monitoring"
POSTGRESQL = connection.vendor == "postgresql"
SLOW_PATTERN = "a.*a.*a.*a.*a.*c"  # polynomial, not nested: validation lets it through; Python's engine crawls
SLOW_TEXT = "a" * 3000 + "!"


def error_of(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def post(client, path: str, body):
    return client.post(f"{API}/{path}", body, format="json")


def upload(client, data: bytes, name: str, **fields):
    handle = io.BytesIO(data)
    handle.name = name
    return client.post(f"{API}/records/upload", {"file": handle, "source": "erp", **fields}, format="multipart")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def scanned(db):
    policy, rules = make_policy(rules=[{"field": "amount", "operator": "lte", "value": 1000, "value_type": "number"}])
    load_records([{"amount": 500 + 300 * i, "name": SLOW_TEXT} for i in range(4)])
    scans.scan_execute(mode=ScanMode.FULL)
    return policy, rules


def waiver(policy, condition) -> dict:
    expires = (timezone.now() + timedelta(days=3)).isoformat()
    return {"policy_id": policy.pk, "reason": "r", "owner": "o", "expires_at": expires, "condition": condition}


def reads_succeed(client) -> None:
    violation, record = Violation.objects.first(), Record.objects.first()
    for path in ("violations", "status", f"violations/{violation.pk}", f"records/{record.pk}", "records"):
        response = client.get(f"{API}/{path}")
        assert response.status_code == 200, (path, response.content[:300])


# --- 1. A waiver's pattern PostgreSQL refuses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"operator": "matches", "field": "name", "value": "(?P<n>a)"}, "condition.value"),
        (
            {"operator": "all", "conditions": [{"operator": "matches", "field": "name", "value": "(?a)x"}]},
            "condition.conditions[0].value",
        ),
    ],
)
def test_a_waiver_pattern_postgresql_refuses_is_a_400_and_never_breaks_the_reads(
    staff_client, scanned, condition, field
):
    policy, _ = scanned
    response = post(staff_client, "waivers", waiver(policy, condition))
    if POSTGRESQL:
        error = error_of(response)
        assert error["details"]["field"] == field and "PostgreSQL" in error["details"]["reason"]
        assert not Waiver.objects.exists()
    else:  # SQLite runs patterns in Python, which reads them
        assert response.status_code == 201, response.content
    reads_succeed(staff_client)


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123"))
    return client


BAD_CONDITIONS = [
    '{"operator": "bogus"}',
    '{"operator": "lte", "field": "amount", "value": "1e400", "value_type": "number"}',
]
if POSTGRESQL:
    BAD_CONDITIONS.append('{"operator": "matches", "field": "name", "value": "(?P<n>a)"}')


@pytest.mark.parametrize("condition", BAD_CONDITIONS)
def test_a_waiver_condition_edited_in_the_admin_is_checked_like_the_api(admin_client, scanned, condition):
    policy, _ = scanned
    later = timezone.now() + timedelta(days=3)
    form = {
        "policy": policy.pk,
        "reason": "r",
        "owner": "o",
        "expires_at_0": f"{later:%Y-%m-%d}",
        "expires_at_1": "12:00",
    }
    response = admin_client.post("/admin/monitoring/waiver/add/", {**form, "condition": condition})
    assert response.status_code == 200 and "condition." in response.content.decode()  # the form, with the error
    assert not Waiver.objects.exists()
    good = '{"operator": "lte", "field": "amount", "value": 700, "value_type": "number", "extra": 1}'
    assert admin_client.post("/admin/monitoring/waiver/add/", {**form, "condition": good}).status_code == 302
    assert Waiver.objects.get().condition == {
        "field": "amount",
        "operator": "lte",
        "value": 700,
        "value_type": "number",
    }
    reads_succeed(admin_client)


# --- 2. Numbers beyond a double ---------------------------------------------------------------------------

NUMBER = {"field": "amount", "value_type": "number"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NUMBER, "operator": "lte", "value": "1e400"}, "value"),
        ({**NUMBER, "operator": "gte", "value": "-1e400"}, "value"),
        ({**NUMBER, "operator": "gt", "value": 10**400}, "value"),
        ({**NUMBER, "operator": "between", "value": [1, "2e400"]}, "value"),
        ({**NUMBER, "operator": "contains", "value": "1e400"}, "value"),
        ({"field": "amount", "operator": "in", "value": [1, 10**400], "value_type": "list"}, "value"),
        ({"operator": "all", "conditions": [{**NUMBER, "operator": "lte", "value": "1e400"}]}, "conditions[0].value"),
    ],
)
def test_a_number_beyond_a_double_is_a_400_naming_the_field(staff_client, scanned, body, field):
    policy, rules = scanned
    before = list(Rule.objects.values())
    error = error_of(post(staff_client, "rules", {"policy_id": policy.pk, **body}))
    assert error["details"]["field"] == field and "1.8e308" in error["details"]["reason"], error
    error = error_of(staff_client.patch(f"{API}/rules/{rules[0].pk}", body, format="json"))
    assert error["details"]["field"] == field
    error = error_of(post(staff_client, "waivers", waiver(policy, {"operator": "not", "conditions": [body]})))
    assert error["details"]["field"] == "condition.conditions[0]." + field
    error = error_of(post(staff_client, f"rules/{rules[0].pk}/preview", body))
    assert error["details"]["field"] == field
    assert list(Rule.objects.values()) == before and not Waiver.objects.exists()


def test_a_large_finite_number_is_still_a_number(staff_client, scanned):
    policy, _ = scanned
    response = post(staff_client, "rules", {"policy_id": policy.pk, **NUMBER, "operator": "lte", "value": "1e300"})
    assert response.status_code == 201 and response.json()["value"] == 1e300, response.content


# --- 3. Deep nesting --------------------------------------------------------------------------------------


def test_a_row_nested_too_deeply_is_a_bad_row_and_the_good_rows_are_imported(staff_client):
    lines = [
        '{"id": 1}',
        '{"id": 2, "deep": ' + nested(99) + "}",  # 100 levels with the row itself
        '{"id": 3, "deep": ' + nested(100) + "}",
        '{"id": 4, "deep": ' + nested(900) + "}",  # the write's JSON encoder would raise RecursionError
        '{"id": 5, "deep": {"a": ' + nested(150) + "}}",
        '{"id": 6}',
    ]
    body = upload(staff_client, ("\n".join(lines) + "\n").encode(), "deep.jsonl").json()
    assert body["created"] == 3 and [e["line"] for e in body["errors"]] == [3, 4, 5], body
    assert all("deeper than 100" in e["reason"] for e in body["errors"])
    assert set(Record.objects.values_list("external_id", flat=True)) == {"1", "2", "6"}
    assert staff_client.get(f"{API}/records").status_code == 200


def test_the_import_command_reports_a_row_nested_too_deeply(tmp_path, capsys):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"id": 0}\n{"id": 1, "d": ' + nested(940) + '}\n{"id": 2}\n')
    call_command("import_records", str(path), "--source", "erp", "--no-progress")
    captured = capsys.readouterr()
    assert "line 2: JSON nested deeper than 100 levels" in captured.err and "2 created" in captured.out


def test_a_rule_value_nested_too_deeply_is_a_400(staff_client, scanned):
    policy, _ = scanned
    text = '{"policy_id": %d, "operator": "equals", "field": "a", "value_type": "string", "value": %s}'
    for depth in (150, 902):
        response = staff_client.post(f"{API}/rules", text % (policy.pk, nested(depth)), content_type="application/json")
        assert error_of(response)["code"] == "parse_error"
    assert Rule.objects.count() == 1


# --- 4 and 5. Lines: only line ends split them; bytes that are not UTF-8 are a bad row -------------------

ODD_SEPARATORS = "\u2028\u2029\u0085\x0b\x0c\x1c\x1d\x1e"  # str.splitlines splits at each


def test_json_lines_split_at_line_ends_only(staff_client):
    lines = [f'{{"id": {i}, "note": "a{char}b"}}' for i, char in enumerate("\u2028\u2029\u0085", start=1)]
    lines += ['{"id": 4, "note": "a\x0cb \x1c"}', "bad", '{"id": 99}']  # a raw control character is not JSON
    body = upload(staff_client, ("\ufeff" + "\r\n".join(lines) + "\r\n").encode(), "odd.jsonl").json()
    assert body["created"] == 4 and [e["line"] for e in body["errors"]] == [4, 5], body
    assert "control character" in body["errors"][0]["reason"]
    assert Record.objects.get(external_id="1").data == {"id": 1, "note": "a\u2028b"}
    assert Record.objects.get(external_id="3").data == {"id": 3, "note": "a\u0085b"}


def test_csv_cells_keep_their_odd_characters_and_rows_their_lines(staff_client):
    rows = [f"{i},a{char}b" for i, char in enumerate(ODD_SEPARATORS, start=1)]
    data = "\ufeffid,note\r\n" + "\r\n".join([*rows, '50,"two\r\nlines"', "x,y,z", "60,ok"]) + "\r\n"
    body = upload(staff_client, data.encode(), "odd.csv").json()
    count = len(ODD_SEPARATORS)
    assert body["created"] == count + 2 and body["errors"][0]["line"] == count + 4, body
    assert Record.objects.get(external_id="1").data == {"id": "1", "note": "a\u2028b"}
    assert Record.objects.get(external_id="50").data["note"] == "two\r\nlines"


@pytest.mark.parametrize(
    ("data", "name"),
    [(b'{"id": 1, "name": "caf\xe9"}\n{"id": 2}\n', "latin.jsonl"), (b"id,name\n1,caf\xe9\n2,ok\n", "latin.csv")],
)
def test_a_row_that_is_not_utf8_is_a_bad_row_not_a_replaced_character(staff_client, data, name):
    body = upload(staff_client, data, name).json()
    line = 1 if name.endswith(".jsonl") else 2
    assert body["created"] == 1 and body["errors"] == [{"line": line, "reason": "not valid UTF-8"}], body
    assert list(Record.objects.values_list("external_id", flat=True)) == ["2"]


def test_a_csv_header_that_is_not_utf8_is_a_400(staff_client):
    error = error_of(upload(staff_client, b"id,caf\xe9\n1,x\n", "latin.csv"))
    assert error["details"]["field"] == "file" and not Record.objects.exists()


# --- 6. Patterns that backtrack without end ---------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["(a|aa)+$", "((a+))+$", "(a|a)*b$", "((a|a))*b", "(x(a|b)y){2,}"])
def test_a_pattern_that_backtracks_exponentially_is_a_400(staff_client, scanned, pattern):
    policy, _ = scanned
    body = {"policy_id": policy.pk, "field": "name", "operator": "matches", "value": pattern, "value_type": "string"}
    error = error_of(post(staff_client, "rules", body))
    assert error["details"]["field"] == "value" and "exponential" in error["details"]["reason"]


@pytest.mark.parametrize("pattern", [r"^(com|org)$", r"(ab)+", r"^[A-Z]{2}(-[0-9])?$", r"[(a|b)+]+", r"\(a|b\)+"])
def test_patterns_that_do_not_backtrack_exponentially_are_kept(pattern):
    assert R.check_pattern(pattern, "value") == pattern


def test_the_demo_patterns_pass_validation():
    for spec in [rule for rules in vars(demo).values() if isinstance(rules, list) for rule in rules]:
        if isinstance(spec, dict) and spec.get("operator"):
            R.validate_condition(spec)


def test_a_preview_whose_pattern_takes_too_long_is_a_400_on_its_field(reader_client, scanned):
    _, rules = scanned
    body = {"field": "name", "operator": "matches", "value": SLOW_PATTERN, "value_type": "string"}
    response = post(reader_client, f"rules/{rules[0].pk}/preview", body)
    if POSTGRESQL:  # its engine bounds the work
        assert response.status_code == 200, response.content
        return
    error = error_of(response)
    assert error["details"]["field"] == "value" and "took longer" in error["details"]["reason"], error
    grouped = {"operator": "all", "conditions": [{"operator": "exists", "field": "amount"}, body]}
    error = error_of(post(reader_client, f"rules/{rules[0].pk}/preview", grouped))
    assert error["details"]["field"] == "conditions[1].value"


def test_a_scan_whose_pattern_takes_too_long_fails_with_the_reason_and_no_retry(scanned):
    policy, _ = scanned
    slow = Rule.objects.create(policy=policy, field="name", operator="matches", value=SLOW_PATTERN, value_type="string")
    if POSTGRESQL:
        assert scan_violations_task.fn()["rules_evaluated"] == 2
        return
    with pytest.raises(PermanentError, match=f"Rule {slow.pk}: the regular expression took longer"):
        scan_violations_task.fn()
    scan = ScanRun.objects.latest("id")
    assert scan.status == ScanStatus.FAILED and "took longer" in scan.error and SLOW_PATTERN in scan.error
    slow.delete()
    assert scans.scan_execute(mode=ScanMode.FULL)["rules_evaluated"] == 1  # the connection is fine


def test_a_rule_stored_before_the_stricter_screen_may_still_be_read_disabled_and_scanned(staff_client, scanned):
    policy, _ = scanned
    old = Rule.objects.create(policy=policy, field="code", operator="matches", value="^(ab|cd)+$", value_type="string")
    assert staff_client.patch(f"{API}/rules/{old.pk}", {"message": "m"}, format="json").status_code == 200
    assert post(staff_client, f"rules/{old.pk}/preview", {}).status_code == 200
    assert scans.scan_execute(mode=ScanMode.FULL)["rules_evaluated"] == 2
    error = error_of(staff_client.patch(f"{API}/rules/{old.pk}", {"value": "^(ab|ef)+$"}, format="json"))
    assert error["details"]["field"] == "value"


# --- 7. Id filters beyond a bigint ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("violations?policy=99999999999999999999", "policy"),
        ("violations?rule=99999999999999999999", "rule"),
        ("violations?record=9223372036854775808", "record"),
        ("violations?policy=0", "policy"),
        ("rules?policy=99999999999999999999", "policy"),
    ],
)
def test_an_id_filter_beyond_a_bigint_is_a_400(reader_client, scanned, path, field):
    assert error_of(reader_client.get(f"{API}/{path}"))["details"]["field"] == field


# --- 8. A source PostgreSQL cannot store ------------------------------------------------------------------


def test_the_import_command_refuses_a_source_with_a_nul(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text('{"id": 1}\n')
    with pytest.raises(CommandError, match="source: the text contains a NUL"):
        call_command("import_records", str(path), "--source", "a\x00b", "--no-progress")
    assert not Record.objects.exists()


# --- 9. CSV quoting and headers ---------------------------------------------------------------------------


def test_an_unclosed_quote_is_a_bad_row_not_a_cell_that_swallows_the_rest(staff_client):
    body = upload(staff_client, b'id,a\n1,"abc\n2,ok\n', "open.csv").json()
    assert body["created"] == 0 and body["errors"] == [{"line": 2, "reason": "not CSV: unexpected end of data"}]
    body = upload(staff_client, b'id,a\n1,"a"b\n2,ok\n', "stray.csv").json()
    assert body["created"] == 1 and body["errors"][0]["line"] == 2, body


def test_a_csv_header_naming_a_column_twice_is_a_400(staff_client):
    error = error_of(upload(staff_client, b"id,a,a\n1,x,y\n", "twice.csv"))
    assert error["details"]["field"] == "file" and error["details"]["column"] == "a" and "'a'" in error["message"]
    assert not Record.objects.exists()


# --- 11. Error messages -----------------------------------------------------------------------------------


def test_a_list_item_error_reads_as_its_path(staff_client):
    error = error_of(post(staff_client, "policies", {"name": "P", "sources": ["erp", ""]}))
    assert error["message"] == "sources[1]: This field may not be blank.", error


def test_an_error_quotes_at_most_the_start_of_a_huge_value(staff_client, scanned):
    policy, _ = scanned
    body = {"policy_id": policy.pk, **NUMBER, "operator": "equals", "value": "x" * 900_000}
    response = post(staff_client, "rules", body)
    error = error_of(response)
    assert len(response.content) < 1000 and "xxx…" in error["details"]["reason"], error
    condition = {"operator": "o" * 900_000}
    response = post(staff_client, "waivers", waiver(policy, condition))
    assert error_of(response)["details"]["field"] == "condition.operator" and len(response.content) < 2000
