"""What a rule may say: operators, value types, field paths; validation that names the field at fault.

A rule is a requirement on a record's data. ``validate_condition`` turns what a client sent into
a normalised condition (a dict with ``field``, ``path``, ``operator``, ``value``, ``value_type``,
``conditions``) or raises ValidationFailed whose details name the rule field and the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from jobs.errors import ValidationFailed
from jobs.validation import string_problem

MAX_PATH_LENGTH = 300
MAX_PATH_DEPTH = 12
MAX_PATTERN_LENGTH = 200
MAX_LIST_ITEMS = 1000
MAX_STRING_LENGTH = 1000
MAX_GROUP_SIZE = 20
MAX_GROUP_DEPTH = 4
MAX_AGE_DAYS = 36500

PATH_RE = re.compile(r"^[A-Za-z0-9_\-]+(\[\d{1,6}\])*(\.[A-Za-z0-9_\-]+(\[\d{1,6}\])*)*$")
SEGMENT_RE = re.compile(r"([A-Za-z0-9_\-]+)|\[(\d+)\]")
DATE_PREFIX_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# A numeric string: ASCII digits, at most 100 on either side of the point and a 3-digit exponent, with
# ASCII whitespace around it. \s and \d would mean other sets in PostgreSQL, `regex` and `re`, wider than
# what the databases' casts read; the bounds keep PostgreSQL's numeric cast from overflowing on any value.
NUMBER_SPACE = " \t\n\r\f\v"
NUMBER_TEXT_PATTERN = r"^[ \t\n\r\f\v]*-?[0-9]{1,100}(\.[0-9]{1,100})?([eE][+-]?[0-9]{1,3})?[ \t\n\r\f\v]*$"
NUMBER_TEXT_RE = re.compile(NUMBER_TEXT_PATTERN)
# A counted repetition as Python reads it ({2}, {2,}, {,3}, {2,3}); any other brace is a literal.
REPEAT_RE = re.compile(r"\{\d*(,\d*)?\}")
MAX_SHOWN_VALUE = 100  # characters of a refused value echoed in its error (a value may be a megabyte)

STRING, NUMBER, DATE, BOOLEAN, LIST = "string", "number", "date", "boolean", "list"
VALUE_TYPES = (STRING, NUMBER, DATE, BOOLEAN, LIST)


@dataclass(frozen=True)
class Operator:
    name: str
    value_types: tuple[str, ...] = ()  # empty: the operator takes no value
    default_type: str = ""
    label: str = ""
    group: bool = False
    presence: bool = False  # absence is what it checks: a missing path is not "not applicable"
    relative: bool = False  # depends on today's date


OPERATORS = {
    op.name: op
    for op in [
        Operator("equals", (STRING, NUMBER, DATE, BOOLEAN), label="must equal"),
        Operator("not_equals", (STRING, NUMBER, DATE, BOOLEAN), label="must not equal"),
        Operator("gt", (NUMBER, DATE), label="must be greater than"),
        Operator("gte", (NUMBER, DATE), label="must be at least"),
        Operator("lt", (NUMBER, DATE), label="must be less than"),
        Operator("lte", (NUMBER, DATE), label="must be at most"),
        Operator("between", (NUMBER, DATE), label="must be between (inclusive)"),
        Operator("in", (LIST,), LIST, label="must be one of"),
        Operator("not_in", (LIST,), LIST, label="must not be one of"),
        Operator("contains", (STRING, NUMBER), label="must contain"),
        Operator("starts_with", (STRING,), STRING, label="must start with"),
        Operator("matches", (STRING,), STRING, label="must match the regular expression"),
        Operator("is_empty", label="must be empty", presence=True),
        Operator("is_not_empty", label="must not be empty", presence=True),
        Operator("exists", label="must be present", presence=True),
        Operator("missing", label="must be absent", presence=True),
        Operator("before", (DATE,), DATE, label="must be before"),
        Operator("after", (DATE,), DATE, label="must be after"),
        Operator("older_than", (NUMBER,), NUMBER, label="must be older than (days)", relative=True),
        Operator("within_last", (NUMBER,), NUMBER, label="must be within the last (days)", relative=True),
        Operator("all", label="all of these must hold", group=True),
        Operator("any", label="at least one of these must hold", group=True),
        Operator("not", label="this must not hold", group=True),
    ]
}


def _fail(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {reason}", details={"field": field, "reason": reason})


def parse_path(text) -> list[str | int]:
    """``items[0].sku`` → ``["items", 0, "sku"]``; raises ValueError for anything else."""
    if not isinstance(text, str) or not text or len(text) > MAX_PATH_LENGTH or not PATH_RE.match(text):
        raise ValueError("not a path: use dotted keys with optional list indexes, e.g. items[0].sku")
    segments = [key if key else int(index) for key, index in SEGMENT_RE.findall(text)]
    if len(segments) > MAX_PATH_DEPTH:
        raise ValueError(f"a path may have at most {MAX_PATH_DEPTH} segments")
    return segments


def number_of(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str) and NUMBER_TEXT_RE.match(value):
        try:
            return Decimal(value.strip(NUMBER_SPACE))
        except InvalidOperation:
            return None
    return None


def day_of(value) -> str | None:
    """The calendar day of an ISO 8601 date or date-time string, as YYYY-MM-DD; None otherwise."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    if isinstance(value, str) and DATE_PREFIX_RE.match(value):
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            return None
    return None


def _quantifier_at(pattern: str, i: int) -> int:
    """The length of the repetition (+, *, {m,n}) starting at ``i``, 0 if there is none; ? is not one."""
    if i >= len(pattern):
        return 0
    if pattern[i] in "+*":
        return 1
    match = REPEAT_RE.match(pattern, i) if pattern[i] == "{" else None
    return len(match.group()) if match and match.group() != "{}" else 0


def _pattern_characters(pattern: str):
    """(index, character, inside a set) for each unescaped character of a pattern; the opening of a
    set ("[", "[^", and a "]" first in it, which is a literal) is not yielded."""
    i, n, in_set = 0, len(pattern), False
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if not in_set and char == "[":
            i += 2 if pattern.startswith("[^", i) else 1
            i += 1 if pattern.startswith("]", i) else 0
            in_set = True
            continue
        yield i, char, in_set
        in_set = in_set and char != "]"
        i += 1


def backtracking_problem(pattern: str) -> str:
    """Why a (compiled) pattern can backtrack exponentially, or ''.

    A repeated group may not hold a repetition, however deep — (a+)+, ((a+))+ — nor alternatives —
    (a|aa)+, ((a|a))*b: either lets one text match in exponentially many ways, and a failing
    match tries them all. Python's engine (SQLite's scans, previews) has no bound on that.
    """
    frames: list[list[bool]] = []  # per open group: [holds alternatives, holds a repetition]
    for i, char, in_set in _pattern_characters(pattern):
        if in_set:  # nothing in a set groups or repeats
            continue
        if char == "(":
            frames.append([False, False])
        elif char == "|" and frames:
            frames[-1][0] = True
        elif char == ")" and frames:
            alternatives, repetition = frames.pop()
            repeated = _quantifier_at(pattern, i + 1) > 0
            if repeated and repetition:
                return "nested quantifiers such as (a+)+ can take exponential time; rewrite the pattern"
            if repeated and alternatives:
                return "a repeated group with alternatives, such as (a|aa)+, can take exponential time; rewrite it"
            if frames:
                frames[-1][0] |= alternatives
                frames[-1][1] |= repetition or repeated
        elif frames and _quantifier_at(pattern, i):
            frames[-1][1] = True
    return ""


def posix_bracket_problem(pattern: str) -> str:
    """Why a set holds ``[:``, ``[.`` or ``[=``, or ''. Both databases read ``[[:digit:]]`` as a POSIX
    class (SQLite's ``regex`` module, PostgreSQL), Python as the set ``[[:digit:]`` then ``]``."""
    for i, char, in_set in _pattern_characters(pattern):
        if in_set and char == "[" and pattern[i + 1 : i + 2] in (":", ".", "="):
            return f"{pattern[i : i + 2]!r} in a set reads differently in Python and the databases; escape the ["
    return ""


def check_pattern(pattern, field: str, *, screen: bool = True) -> str:
    """A valid pattern, or ValidationFailed. ``screen``: refuse patterns that backtrack exponentially
    (checked when a pattern is written; a stored one is read as it is)."""
    if not isinstance(pattern, str) or not pattern:
        raise _fail(field, "a regular expression (a non-empty string) is required")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _fail(field, f"the regular expression is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise _fail(field, f"the regular expression does not compile: {exc}") from None
    problem = (backtracking_problem(pattern) or posix_bracket_problem(pattern)) if screen else ""
    if problem:
        raise _fail(field, problem)
    return pattern


def shown(value) -> str:
    """``repr(value)``, cut to MAX_SHOWN_VALUE characters: an error names the value, not a copy of it."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[:MAX_SHOWN_VALUE] + "…"


def _typed_value(value, value_type: str, field: str):
    if value_type == NUMBER:
        number = number_of(value)
        if number is None or not number.is_finite():
            raise _fail(field, f"{shown(value)} is not a number")
        if not math.isfinite(float(number)):  # 1e400 or 10**400: JSON and the databases have no Infinity
            raise _fail(field, f"{shown(value)} is out of range (at most about 1.8e308)")
        # Integers stay exact (a float would turn 2**53 + 1 into 2**53); so do integral values a double holds.
        integer_text = isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip(NUMBER_SPACE))
        if isinstance(value, int) or integer_text or (number == number.to_integral_value() and abs(number) < 2**53):
            return int(number)
        if float(number) == 0 and number != 0:  # 1e-400 would be stored as 0
            raise _fail(field, f"{shown(value)} is out of range (non-zero numbers from about 5e-324)")
        return float(number)
    if value_type == DATE:
        day = day_of(value)
        if day is None:
            raise _fail(field, f"{shown(value)} is not an ISO 8601 date (YYYY-MM-DD)")
        return day
    if value_type == BOOLEAN:
        if isinstance(value, bool):
            return value
        raise _fail(field, f"{shown(value)} is not a boolean (true or false)")
    if value_type == STRING:
        if not isinstance(value, str):
            raise _fail(field, f"{shown(value)} is not a string")
        if len(value) > MAX_STRING_LENGTH:
            raise _fail(field, f"the string is longer than {MAX_STRING_LENGTH} characters")
        problem = string_problem(value)
        if problem:
            raise _fail(field, f"the string {problem}")
        return value
    raise _fail("value_type", f"unknown value type {shown(value_type)}")


def _list_value(value, field: str) -> list:
    if not isinstance(value, list) or not value:
        raise _fail(field, "a non-empty list is required")
    if len(value) > MAX_LIST_ITEMS:
        raise _fail(field, f"a list may have at most {MAX_LIST_ITEMS} items")
    if all(number_of(v) is not None and not isinstance(v, str) for v in value):
        return [_typed_value(v, NUMBER, field) for v in value]
    if all(isinstance(v, str) for v in value):
        return [_typed_value(v, STRING, field) for v in value]
    raise _fail(field, "list items must be all strings or all numbers")


def list_is_numeric(values: list) -> bool:
    return all(not isinstance(v, str) for v in values)


def validate_condition(spec, *, prefix: str = "", depth: int = 0, screen: bool = True) -> dict:
    """Normalise one condition (a rule's own fields, or a sub-rule of a group); raises ValidationFailed.

    ``screen=False`` for a stored condition: its patterns were screened (``check_pattern``) when it was
    written, and a stricter screen since must not make a stored rule unreadable.
    """
    if not isinstance(spec, dict):
        raise _fail(prefix.rstrip(".") or "rule", "a condition must be an object")
    name = spec.get("operator")
    operator = OPERATORS.get(name) if isinstance(name, str) else None
    if operator is None:
        raise _fail(f"{prefix}operator", f"unknown operator {shown(name)}; valid operators: {', '.join(OPERATORS)}")
    if operator.group:
        return _validate_group(spec, operator, prefix=prefix, depth=depth, screen=screen)
    field = spec.get("field")
    try:
        path = parse_path(field)
    except ValueError as exc:
        raise _fail(f"{prefix}field", f"{shown(field)} is {exc}") from None
    value, value_type = spec.get("value"), spec.get("value_type") or operator.default_type
    if not operator.value_types:
        if value not in (None, "", []):
            raise _fail(f"{prefix}value", f"the operator {name} takes no value")
        return {"field": field, "path": path, "operator": name, "value": None, "value_type": "", "conditions": []}
    if value_type not in operator.value_types:
        reason = "is required" if not value_type else f"{shown(value_type)} does not fit the operator {name}"
        raise _fail(f"{prefix}value_type", f"{reason}; use one of {', '.join(operator.value_types)}")
    value = _operator_value(operator, value, value_type, field=f"{prefix}value", screen=screen)
    return {"field": field, "path": path, "operator": name, "value": value, "value_type": value_type, "conditions": []}


def _operator_value(operator: Operator, value, value_type: str, *, field: str, screen: bool = True):
    if value is None:
        raise _fail(field, f"the operator {operator.name} needs a value")
    if operator.name == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(field, "between needs a list of two values [low, high]")
        low, high = (_typed_value(v, value_type, field) for v in value)
        if low > high:
            raise _fail(field, "the low end of between is above the high end")
        return [low, high]
    if value_type == LIST:
        return _list_value(value, field)
    typed = _typed_value(value, value_type, field)
    if operator.name == "matches":
        check_pattern(typed, field, screen=screen)
    if operator.relative and (not isinstance(typed, int) or not 0 <= typed <= MAX_AGE_DAYS):
        raise _fail(field, f"a whole number of days from 0 to {MAX_AGE_DAYS} is required")
    return typed


def _validate_group(spec: dict, operator: Operator, *, prefix: str, depth: int, screen: bool) -> dict:
    if depth >= MAX_GROUP_DEPTH:
        raise _fail(f"{prefix}conditions", f"groups may nest at most {MAX_GROUP_DEPTH} deep")
    children = spec.get("conditions")
    if not isinstance(children, list) or not children:
        raise _fail(f"{prefix}conditions", f"the operator {operator.name} needs a non-empty list of conditions")
    if operator.name == "not" and len(children) != 1:
        raise _fail(f"{prefix}conditions", "the operator not takes exactly one condition")
    if len(children) > MAX_GROUP_SIZE:
        raise _fail(f"{prefix}conditions", f"a group may have at most {MAX_GROUP_SIZE} conditions")
    normalised = [
        validate_condition(child, prefix=f"{prefix}conditions[{i}].", depth=depth + 1, screen=screen)
        for i, child in enumerate(children)
    ]
    return {
        "field": "",
        "path": [],
        "operator": operator.name,
        "value": None,
        "value_type": "",
        "conditions": normalised,
    }


def condition_of(rule) -> dict:
    """The normalised condition of a stored rule (rules are validated before they are stored)."""
    return validate_condition(
        {
            "field": rule.field,
            "operator": rule.operator,
            "value": rule.value,
            "value_type": rule.value_type,
            "conditions": rule.conditions,
        },
        screen=False,
    )


def is_relative(condition: dict) -> bool:
    op = OPERATORS[condition["operator"]]
    return op.relative or any(is_relative(c) for c in condition["conditions"])


def leaves(condition: dict) -> list[dict]:
    if not condition["conditions"]:
        return [condition]
    return [leaf for child in condition["conditions"] for leaf in leaves(child)]


def patterns(condition: dict, prefix: str = "") -> list[tuple[str, str]]:
    """The (field name, pattern) of each ``matches`` in a normalised condition: ``conditions[0].value``…"""
    if condition["operator"] == "matches":
        return [(f"{prefix}value", condition["value"])]
    return [
        found
        for i, child in enumerate(condition["conditions"])
        for found in patterns(child, f"{prefix}conditions[{i}].")
    ]


def describe(condition: dict) -> str:
    """A short human reading: ``amount must be at most 10000``."""
    op = OPERATORS[condition["operator"]]
    if op.group:
        inner = "; ".join(describe(c) for c in condition["conditions"])
        return f"{op.label}: {inner}"
    value = "" if condition["value"] is None else f" {condition['value']}"
    return f"{condition['field']} {op.label}{value}"
