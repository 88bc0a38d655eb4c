"""Rule evaluation against the oracle, on the cases a differential fuzzer (production vs the oracle) found."""

import json
import math
import random
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from jobs.errors import ValidationFailed
from monitoring import preview, scans, services
from monitoring import rules as R
from monitoring.compiler import Compiler, dialect_for
from monitoring.models import Policy, Rule, ScanMode, ScanRun
from monitoring.passes import PassRunner
from tests.monitoring import oracle
from tests.monitoring.conftest import active_pairs, expected_violations, load_records, make_policy

pytestmark = pytest.mark.django_db

BLANK_STATUS = {"field": "status", "operator": "equals", "value": "", "value_type": "string"}


# --- 1. A sub-rule whose value is "" ---------------------------------------------------------------


def test_a_sub_rule_comparing_with_an_empty_string_keeps_its_value_and_scans():
    _, rules = make_policy(rules=[{"operator": "not", "conditions": [BLANK_STATUS]}])
    assert Rule.objects.get(pk=rules[0].pk).conditions == [BLANK_STATUS]
    load_records([{"status": ""}, {"status": "draft"}, {}])
    scans.scan_execute(mode=ScanMode.FULL)
    assert active_pairs() == expected_violations(rules) and len(active_pairs()) == 1
    services.rule_update(rule_id=rules[0].pk, message="a status must not be blank")


def test_a_stored_rule_that_no_longer_validates_is_skipped_and_reported_not_every_policy_failed():
    _, (good,) = make_policy(
        "A", rules=[{"field": "status", "operator": "equals", "value": "ok", "value_type": "string"}]
    )
    _, (bad,) = make_policy("B", rules=[{"operator": "not", "conditions": [dict(BLANK_STATUS, value="x")]}])
    # As the old _stored wrote it: the sub-rule without its value.
    Rule.objects.filter(pk=bad.pk).update(conditions=[{k: v for k, v in BLANK_STATUS.items() if k != "value"}])
    load_records([{"status": "draft"}])
    for mode in (ScanMode.FULL, ScanMode.INCREMENTAL):
        result = scans.scan_execute(mode=mode)
        assert active_pairs() == expected_violations([good]) and len(active_pairs()) == 1
        details = ScanRun.objects.get(pk=result["scan_id"]).details
        skipped = [entry["skipped_rules"] for entry in details if "skipped_rules" in entry]
        assert skipped == [[{"rule_id": bad.pk, "reason": mock.ANY}]], details
        assert "conditions[0].value: the operator equals needs a value" in skipped[0][0]["reason"]


# --- 2. Numeric strings: ASCII only, bounded, never an error ------------------------------------------

ODD_NUMBERS = [
    "12\u2003", "\u200312", "\u3000 7", "1e99999999", "1e-99999999", " 12 ", "\t12\n", "\x0b5\x0c", "12\u00a0",
    "\x1c12", "\u0663", "\uff11\uff12", "\x8512", "1e999", "-1e-300", "1" * 101, "0." + "0" * 100 + "1", "9" * 100,
    "9" * 100 + "." + "9" * 100 + "e999", "0." + "0" * 20000 + "1", "12abc", "1e1000",
]  # fmt: skip


@pytest.mark.parametrize(("operator", "value"), [("gt", 0), ("lte", 10000)])
def test_number_rules_read_numeric_strings_as_the_readme_says(operator, value):
    _, rules = make_policy(rules=[{"field": "amount", "operator": operator, "value": value, "value_type": "number"}])
    load_records([{"amount": text} for text in ODD_NUMBERS])
    scans.scan_execute(mode=ScanMode.FULL)
    assert active_pairs() == expected_violations(rules)


def _odd_number_texts(count: int) -> list[str]:
    pieces = ["0", "1", "9", "12", ".", "-", "+", "e", "E", "e-", "e+", " ", "\t", "\n", "\r", "\x0b", "\x0c",
              "\u00a0", "\u2003", "\u3000", "\x1c", "\x85", "\u0663", "\uff11", "999", "0" * 60, "9" * 60]  # fmt: skip
    rng = random.Random(6)
    # 1e-1098 scans as 0 on SQLite (README: doubles) and must not overflow PostgreSQL's numeric
    extremes = ["0." + "0" * 99 + "1e-999", "-" + "9" * 100 + "." + "9" * 100 + "e-999"]
    return (
        ODD_NUMBERS + extremes + ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(count)]
    )


def test_no_string_makes_the_number_cast_fail_and_each_reads_as_the_oracle_reads_it():
    """The compiled number expression over hundreds of odd strings: no error (a DataError on PostgreSQL
    fails the scan of every policy), NULL exactly where the oracle sees no number, and its value."""
    expression = dialect_for("d.data").typed(["amount"], R.NUMBER)
    pg = connection.vendor == "postgresql"
    sql = f"SELECT {expression['string' if pg else 'text']} FROM (SELECT %s{'::jsonb' if pg else ''} AS data) AS d"
    with connection.cursor() as cursor:
        for text in _odd_number_texts(400):
            cursor.execute(sql, [json.dumps({"amount": text})])
            got, expected = cursor.fetchone()[0], oracle.as_number(text)
            assert (got is None) == (expected is None), text
            if expected is not None and pg:
                assert got == expected, text
            elif expected is not None:  # SQLite reads numbers as doubles (README)
                assert got == float(expected) or math.isclose(got, float(expected), rel_tol=1e-15), text


# --- 4. Rule values stay what was written -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [(9007199254740993, 9007199254740993), ("9007199254740993", 9007199254740993), (2**63, 2**63),
     (" -12 ", -12), (7.0, 7), ("12.5", 12.5), (-(2**70), -(2**70)), ("1e3", 1000)],
)  # fmt: skip
def test_a_number_rule_value_keeps_integers_exact(value, stored):
    condition = R.validate_condition({"field": "amount", "operator": "equals", "value": value, "value_type": "number"})
    assert condition["value"] == stored and type(condition["value"]) is type(stored)


@pytest.mark.parametrize("value", ["1e-400", "-2.5e-999", "\u200312", "\u0663"])
def test_a_number_rule_value_that_would_change_or_is_not_ascii_is_refused(value):
    with pytest.raises(ValidationFailed) as caught:
        R.validate_condition({"field": "amount", "operator": "gt", "value": value, "value_type": "number"})
    assert caught.value.details["field"] == "value"


def test_big_integers_compare_exactly():
    rule = {"field": "amount", "operator": "equals", "value": 9007199254740993, "value_type": "number"}
    _, rules = make_policy(rules=[rule, dict(rule, value="9223372036854775807"), dict(rule, operator="lt")])
    amounts = [9007199254740993, 9007199254740992, "9007199254740993", 9223372036854775807, 9223372036854775806]
    load_records([{"amount": amount} for amount in amounts])
    scans.scan_execute(mode=ScanMode.FULL)
    assert active_pairs() == expected_violations(rules)


# --- 5. Patterns: POSIX brackets refused --------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["[[:digit:]]", "[[.a.]]", "[[=a=]]", "x[a[:b]"])
def test_a_posix_bracket_in_a_set_is_refused_naming_the_field(pattern):
    with pytest.raises(ValidationFailed) as caught:
        services.rule_create(
            policy_id=make_policy()[0].pk,
            operator="all",
            conditions=[{"field": "text", "operator": "matches", "value": pattern}],
        )
    assert caught.value.details["field"] == "conditions[0].value"


@pytest.mark.parametrize("pattern", [r"\[[:]", r"[:.=]", r"[\[]:"])
def test_an_escaped_or_plain_bracket_character_is_accepted(pattern):
    assert R.validate_condition({"field": "text", "operator": "matches", "value": pattern})["value"] == pattern


# --- 6. "Today" is TIME_ZONE's today, everywhere -----------------------------------------------------

LATE_UTC = datetime(2024, 3, 1, 11, 0, tzinfo=UTC)  # already 2 March in Kiritimati (UTC+14)


@override_settings(TIME_ZONE="Pacific/Kiritimati")
def test_relative_rules_count_days_from_today_in_the_time_zone():
    rule = {"field": "due", "operator": "within_last", "value": 0, "value_type": "number"}
    policy, rules = make_policy(rules=[rule])
    with mock.patch("django.utils.timezone.now", return_value=LATE_UTC):
        load_records([{"due": "2024-03-01"}, {"due": "2024-03-02"}])
        assert Compiler(dialect_for("r.data")).today == date(2024, 3, 2)
        with connection.cursor() as cursor:
            assert PassRunner(cursor, scan_id=0, now=LATE_UTC).compiler.today == date(2024, 3, 2)
        scans.scan_execute(mode=ScanMode.FULL)
        assert preview.rule_preview(rule_id=rules[0].pk)["violating"] == 1
    assert active_pairs() == expected_violations(rules, today=date(2024, 3, 2))
    assert len(active_pairs()) == 1
    assert Policy.objects.get(pk=policy.pk).scanned_day == date(2024, 3, 2)
    assert timezone.localdate(LATE_UTC) == date(2024, 3, 2)


# --- 7. The jsonpath shortcut proves only what the typed test would ---------------------------------

TRICKY_STRINGS = ['q"uote', "back\\slash", "caf\u00e9", "\U0001f600", "line\nbreak", "tab\t", "$x @ ? ()"]
TRICKY_VALUES = [
    None, True, False, 0, 1, 1.0, -1, 1.5, 9900, 9900.0000001, 1e300, -1e300, 2**63, "1", " 1 ", "9900", "true",
    "approved", "Approved", "approved ", "", *TRICKY_STRINGS, [], ["approved"], [1], [True], {}, {"x": 1},
]  # fmt: skip


def _on(field: str, rules: list[dict]) -> list[dict]:
    return [dict(rule, field=field) for rule in rules]


SHORTCUT_RULES = [
    {"operator": "equals", "value": "approved", "value_type": "string"},
    {"operator": "not_equals", "value": "approved", "value_type": "string"},
    {"operator": "equals", "value": 1, "value_type": "number"},
    {"operator": "not_equals", "value": 1, "value_type": "number"},
    {"operator": "equals", "value": True, "value_type": "boolean"},
    {"operator": "not_equals", "value": False, "value_type": "boolean"},
    {"operator": "gt", "value": 1, "value_type": "number"},
    {"operator": "gte", "value": 1.5, "value_type": "number"},
    {"operator": "lt", "value": 9900, "value_type": "number"},
    {"operator": "lte", "value": -1, "value_type": "number"},
    {"operator": "between", "value": [0, 9900], "value_type": "number"},
    {"operator": "in", "value": ["approved", *TRICKY_STRINGS], "value_type": "list"},
    {"operator": "not_in", "value": ["approved", *TRICKY_STRINGS], "value_type": "list"},
    {"operator": "in", "value": [1, 1.5, 2**63], "value_type": "list"},
    {"operator": "not_in", "value": [0, 9900], "value_type": "list"},
    {"operator": "starts_with", "value": "appro", "value_type": "string"},
    *[{"operator": "equals", "value": text, "value_type": "string"} for text in TRICKY_STRINGS],
    *[{"operator": "starts_with", "value": text[:3], "value_type": "string"} for text in TRICKY_STRINGS],
]


DAY_RULES = [
    {"operator": "before", "value": "2025-11-29", "value_type": "date"},
    {"operator": "after", "value": "2025-11-29", "value_type": "date"},
    {"operator": "lt", "value": "2025-11-29", "value_type": "date"},
    {"operator": "lte", "value": "2025-11-29", "value_type": "date"},
    {"operator": "gt", "value": "2025-11-29", "value_type": "date"},
    {"operator": "gte", "value": "2025-11-29", "value_type": "date"},
    {"operator": "equals", "value": "2025-11-29", "value_type": "date"},
    {"operator": "not_equals", "value": "2025-11-29", "value_type": "date"},
    {"operator": "between", "value": ["2025-11-29", "2025-12-31"], "value_type": "date"},
    {"operator": "older_than", "value": 30, "value_type": "number"},
    {"operator": "within_last", "value": 30, "value_type": "number"},
]


def _day_texts() -> list[str]:
    today = timezone.localdate()
    near = [today - timedelta(days=n) for n in (29, 30, 31)]
    return [
        "2025-11-29", "2025-11-29T10:00:00Z", "2025-11-30", "2025-11-28", "2025-11-2", "2025-11-2:", "2025-11-0:",
        "2025-13-01", "2025-1-01", " 2025-11-29", "2025-11-29x", "x2025-11-29", "2025-02-30", "2025-12-31T23:59",
        "2026-01-01", "\uff12025-11-29", "2025-11-29\n", "9999-12-31", "0000-01-01", "2025-11-29 ", "",
        *[day.isoformat() for day in near], *[f"{day.isoformat()}T23:59" for day in near],
    ]  # fmt: skip


def test_the_shortcut_for_common_operators_agrees_with_the_oracle_on_values_of_every_json_type():
    """On PostgreSQL, equality, order, prefixes and membership first try a jsonpath filter that can only prove
    a value complies; a number written as a string, an array or a wrong type must fall through."""
    rules = _on("v", SHORTCUT_RULES) + _on("n.list[1].v", SHORTCUT_RULES[:4]) + _on("d", DAY_RULES)
    _, created = make_policy(rules=rules)
    days = _day_texts() + TRICKY_VALUES
    load_records(
        [{"v": value, "n": {"list": [{}, {"v": value}]}} for value in TRICKY_VALUES]
        + [{"d": day} for day in days]
        + [{}, {"n": []}]
    )
    scans.scan_execute(mode=ScanMode.FULL)
    assert active_pairs() == expected_violations(created)
    assert len(active_pairs()) > len(TRICKY_VALUES)  # the rules are not all met: the comparison has teeth
