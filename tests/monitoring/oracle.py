"""An independent plain-Python evaluation of rules, written for the tests from the documented semantics.

It shares no code with ``monitoring``: a scan must open exactly the violations this finds.
A rule is a requirement; a missing (or null) value makes it not applicable, except for the
presence operators; a present value of the wrong type violates it.
"""

import re
from datetime import date, timedelta
from decimal import Decimal

# README: ASCII digits (at most 100 before and after the point, an exponent of at most 3 digits) and
# ASCII whitespace around them (space, tab, newline, carriage return, form feed, vertical tab).
ASCII_SPACE = " \t\n\r\f\v"
NUMBER_TEXT = re.compile(r"[ \t\n\r\f\v]*-?[0-9]{1,100}(\.[0-9]{1,100})?([eE][+-]?[0-9]{1,3})?[ \t\n\r\f\v]*")
DATE_TEXT = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
PATH_PART = re.compile(r"([A-Za-z0-9_\-]+)|\[(\d+)\]")


def lookup(data, field):
    value = data
    for key, index in PATH_PART.findall(field):
        if key:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
    return value


def as_number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str) and NUMBER_TEXT.fullmatch(value):
        return Decimal(value.strip(ASCII_SPACE))
    return None


def as_day(value):
    return value[:10] if isinstance(value, str) and DATE_TEXT.match(value) else None


def as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def is_empty(value) -> bool:
    if isinstance(value, str):
        return value.strip(" ") == ""
    if isinstance(value, (list, dict)):
        return len(value) == 0
    return False


def typed(value, value_type):
    if value_type == "number":
        return as_number(value)
    if value_type == "date":
        return as_day(value)
    if value_type == "boolean":
        return as_bool(value)
    return value if isinstance(value, str) else None


def holds(rule, actual, today):
    op, expected, value_type = rule["operator"], rule.get("value"), rule.get("value_type")
    compare = {
        "equals": lambda a, b: a == b,
        "not_equals": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    if op in compare:
        a = typed(actual, value_type)
        b = Decimal(str(expected)) if value_type == "number" else expected
        return a is not None and compare[op](a, b)
    if op == "between":
        a = typed(actual, value_type)
        low, high = (Decimal(str(v)) if value_type == "number" else v for v in expected)
        return a is not None and low <= a <= high
    if op in ("in", "not_in"):
        numeric = all(not isinstance(v, str) for v in expected)
        a = as_number(actual) if numeric else (actual if isinstance(actual, str) else None)
        items = {Decimal(str(v)) for v in expected} if numeric else set(expected)
        return a is not None and ((a in items) if op == "in" else (a not in items))
    if op == "contains":
        if value_type == "number":
            return isinstance(actual, list) and any(
                isinstance(x, (int, float)) and not isinstance(x, bool) and Decimal(str(x)) == Decimal(str(expected))
                for x in actual
            )
        if isinstance(actual, str):
            return expected in actual
        return isinstance(actual, list) and any(isinstance(x, str) and x == expected for x in actual)
    if op == "starts_with":
        return isinstance(actual, str) and actual.startswith(expected)
    if op == "matches":
        return isinstance(actual, str) and re.search(expected, actual) is not None
    a = as_day(actual)
    if a is None:
        return False
    if op == "before":
        return a < expected
    if op == "after":
        return a > expected
    cutoff = (today - timedelta(days=expected)).isoformat()
    if op == "older_than":
        return a < cutoff
    if op == "within_last":
        return a >= cutoff
    raise AssertionError(op)


def evaluate(rule, data, today: date):
    """(applicable, violated) of a rule on a record's data."""
    op = rule["operator"]
    if op in ("all", "any", "not"):
        results = [evaluate(child, data, today) for child in rule["conditions"]]
        applicable = any(a for a, _ in results)
        if op == "all":
            return applicable, any(v for _, v in results)
        if op == "any":
            return applicable, applicable and not any(a and not v for a, v in results)
        a, v = results[0]
        return a, a and not v
    actual = lookup(data, rule["field"])
    present = actual is not None
    if op == "exists":
        return True, not present
    if op == "missing":
        return True, present
    if op == "is_empty":
        return True, present and not is_empty(actual)
    if op == "is_not_empty":
        return True, not present or is_empty(actual)
    return present, present and not holds(rule, actual, today)


def violations(rules: dict, records: dict, today: date) -> set[tuple[int, int]]:
    """{(rule id, record id)} for rules {id: rule dict} and records {id: data}."""
    return {
        (rule_id, record_id)
        for rule_id, rule in rules.items()
        for record_id, data in records.items()
        if evaluate(rule, data, today)[1]
    }
