"""Rules compiled to SQL on the JSON data, for PostgreSQL (jsonb) and SQLite (JSON1).

Every condition compiles to two boolean expressions over a record's data, never NULL:
``applicable`` (A) and ``violated`` (V). A leaf on a missing path is not applicable, except the
presence operators (exists, missing, is_empty, is_not_empty). A present value of the wrong type
for the rule's value type violates it: it cannot be shown to comply. Groups combine as
``all``: A = any A_i, V = any V_i; ``any``: A = any A_i, V = A and no child holds (A_i and not V_i);
``not``: A = A_c, V = A_c and not V_c.

A leaf's V is one ``CASE`` on the JSON type of the value (computed once per row and rule): each
type the rule's value type accepts has its own typed comparison, null and missing comply, every
other type violates. At a million rows the type test is most of the cost, so it is done once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from monitoring import rules as R

NUMBER_TEXT_PATTERN = R.NUMBER_TEXT_PATTERN  # ASCII only: what the trims below remove and the casts read
_PG_NUMBER_SPACE = "E' \\t\\n\\r\\f\\x0b'"  # R.NUMBER_SPACE (E'' has no \v)
DATE_TEXT_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"


@dataclass
class Sql:
    text: str
    params: list = field(default_factory=list)


def _join(op: str, parts: list[Sql]) -> Sql:
    if len(parts) == 1:
        return parts[0]
    return Sql("(" + f" {op} ".join(p.text for p in parts) + ")", [x for p in parts for x in p.params])


def _not(part: Sql) -> Sql:
    return Sql(f"(NOT {part.text})", part.params)


TRUE = Sql("TRUE")


# Patterns are written (and validated) in Python's syntax, as the SQLite path and any test oracle
# read them. PostgreSQL's engine (ARE) agrees on nearly all of it, but not on two things outside
# bracket expressions: its \b is a backspace and \B a backslash (its boundaries are \y and \Y),
# its "." also matches a newline, which Python's does only under the (?s) flag, and it reads
# {,3} as text where Python reads "0 to 3 times".
_POSTGRES_ESCAPES = {"b": "\\y", "B": "\\Y"}
_LEADING_FLAGS_RE = re.compile(r"\(\?([aiLmsux]+)\)")
# Python's inline flags as PostgreSQL's embedded options. Python's m (^ and $ at every line) is PG's w,
# not its m, which would also stop [^x] matching a newline; s needs none (PG's "." always matches a
# newline; without s it becomes [^\n]); u is Python's default. a and L stay: PostgreSQL refuses them.
_POSTGRES_FLAGS = {"i": "i", "m": "w", "x": "x", "s": "", "u": ""}
_NO_LOWER_BOUND_RE = re.compile(r"\{,(\d*)\}")


def postgres_pattern(pattern: str) -> str:
    r"""A Python-syntax pattern as PostgreSQL must read it to mean the same (see _POSTGRES_ESCAPES):
    word boundaries become \y and \Y, "." becomes [^\n] unless the pattern starts with a flag
    group holding s, leading flags become PG's options (_POSTGRES_FLAGS), \xHH becomes \u00HH
    and {,n} becomes {0,n}. Inside a bracket expression ``\b`` is a backspace in
    both, so it stays."""
    flags = _LEADING_FLAGS_RE.match(pattern)
    any_dot = "." if flags and "s" in flags.group(1) else "[^\\n]"
    out: list[str] = []
    i, n, in_bracket = 0, len(pattern), False
    if flags:
        options = "".join(_POSTGRES_FLAGS.get(f, f) for f in flags.group(1))
        out.append(f"(?{options})" if options else "")
        i = flags.end()
    while i < n:
        char = pattern[i]
        if char == "\\" and pattern.startswith("x", i + 1):
            # Python's \xHH has exactly two digits; PG's \x takes every hex digit that follows (\x41B).
            out.append("\\u00" + pattern[i + 2 : i + 4])
            i += 4
        elif char == "\\" and i + 1 < n:
            escaped = pattern[i + 1]
            out.append("\\" + escaped if in_bracket else _POSTGRES_ESCAPES.get(escaped, "\\" + escaped))
            i += 2
        elif not in_bracket and char == "[":
            in_bracket, start = True, i
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":  # a ']' first in a bracket expression is a literal
                i += 1
            out.append(pattern[start:i])
        elif in_bracket and char == "[" and i + 1 < n and pattern[i + 1] in ":.=":
            end = pattern.find(pattern[i + 1] + "]", i + 2)  # [:alpha:], [.x.], [=x=]
            end = n if end == -1 else end + 2
            out.append(pattern[i:end])
            i = end
        elif not in_bracket and char == ".":
            out.append(any_dot)
            i += 1
        elif not in_bracket and (repeat := _NO_LOWER_BOUND_RE.match(pattern, i)):
            out.append("{0," + repeat.group(1) + "}")
            i = repeat.end()
        else:
            if in_bracket and char == "]":
                in_bracket = False
            out.append(char)
            i += 1
    return "".join(out)


class Dialect:
    """How one database reads JSON. ``data`` is the SQL of the JSON column; paths are validated
    (keys of [A-Za-z0-9_-], integer indexes), so they are inlined as literals safely."""

    NULL_KIND = "null"

    def __init__(self, data: str):
        self.data = data

    def kind(self, path) -> str:
        """SQL of the value's JSON type, ``'null'`` when the path is missing."""
        raise NotImplementedError

    def typed(self, path, value_type: str) -> dict[str, str]:
        """JSON type → SQL of the value as ``value_type`` (NULL when it does not convert)."""
        raise NotImplementedError

    def present(self, path) -> Sql:
        return Sql(f"({self.kind(path)} <> 'null')")

    def complies_fast(self, path, op: str, value, value_type: str) -> Sql | None:
        """SQL that holds only for a record that meets the leaf rule, cheaper than the full test; or None."""
        return None


class PostgresDialect(Dialect):
    vendor = "postgresql"

    def json(self, path) -> str:
        steps = "".join(f" -> {p}" if isinstance(p, int) else f" -> '{p}'" for p in path)
        return f"({self.data}{steps})"

    def text(self, path) -> str:
        # ->> on the last step, not #>> '{}' on the extracted value: the same text (NULL for a JSON
        # null) without a copy of the value; at a million rows the copies are a sixth of a scan.
        *parents, last = path
        step = last if isinstance(last, int) else f"'{last}'"
        return f"({self.json(parents)} ->> {step})"

    def kind(self, path) -> str:
        return f"COALESCE(jsonb_typeof({self.json(path)}), 'null')"

    def typed(self, path, value_type: str) -> dict[str, str]:
        j, t = self.json(path), self.text(path)
        if value_type == R.NUMBER:
            return {
                "number": f"{j}::numeric",
                "string": f"(CASE WHEN {t} ~ '{NUMBER_TEXT_PATTERN}' THEN btrim({t}, {_PG_NUMBER_SPACE})::numeric END)",
            }
        if value_type == R.DATE:
            # Compared in the C collation: ISO dates order by their characters, fast and the same everywhere.
            return {"string": f"(CASE WHEN {t} ~ '{DATE_TEXT_PATTERN}' THEN left({t}, 10) COLLATE \"C\" END)"}
        if value_type == R.BOOLEAN:
            return {
                "boolean": f"{j}::boolean",
                "string": f"(CASE WHEN lower({t}) IN ('true', 'false') THEN lower({t}) = 'true' END)",
            }
        return {"string": t}

    def empty_by_kind(self, path) -> dict[str, str]:
        j, t = self.json(path), self.text(path)
        return {"string": f"btrim({t}, ' ') = ''", "array": f"jsonb_array_length({j}) = 0", "object": f"{j} = '{{}}'"}

    def regex(self, text: str) -> str:
        return f"({text} ~ %s)"

    def pattern(self, pattern: str) -> str:
        return postgres_pattern(pattern)

    def contains(self, path, value, value_type: str) -> tuple[dict[str, str], list]:
        """JSON type → SQL that holds when the value contains ``value``, and its params."""
        array = f"{self.json(path)} @> %s::jsonb"
        if value_type == R.NUMBER:
            return {"array": array}, [json.dumps([value])]
        return {"string": f"strpos({self.text(path)}, %s) > 0", "array": array}, [value, json.dumps([value])]

    def number_param(self, value):
        return Decimal(str(value))

    def complies_fast(self, path, op: str, value, value_type: str) -> Sql | None:
        """A test that holds only when the rule holds, at about half the cost of its typed CASE: a
        strict jsonpath filter, evaluated on the value as it is stored.
        Its comparisons are typed (a string never equals a number, an array compares with nothing),
        so whatever it does not prove, it leaves to the full condition. None: no such test."""
        predicate = _jsonpath_predicate(op, value, value_type)
        if predicate is None:
            return None
        steps = "".join(f"[{p}]" if isinstance(p, int) else f".{json.dumps(p)}" for p in path)
        return Sql(f"({self.data} @? %s::jsonpath)", [f"strict ${steps} ? ({predicate})"])

    def actual(self, path) -> str:
        return self.json(path)

    def actual_object(self, paths: list[tuple[str, list]]) -> str:
        return "jsonb_build_object(" + ", ".join(f"'{name}', {self.json(path)}" for name, path in paths) + ")"


class SqliteDialect(Dialect):
    vendor = "sqlite"

    def _path(self, path) -> str:
        return "'$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in path) + "'"

    def value(self, path) -> str:
        return f"json_extract({self.data}, {self._path(path)})"

    def kind(self, path) -> str:
        return f"COALESCE(json_type({self.data}, {self._path(path)}), 'null')"

    def typed(self, path, value_type: str) -> dict[str, str]:
        v = self.value(path)
        if value_type == R.NUMBER:
            # NUMERIC, not REAL: an integer string that fits 64 bits stays an exact integer.
            trimmed = f"trim({v}, char(32, 9, 10, 13, 12, 11))"
            text = f"(CASE WHEN monitoring_regexp('{NUMBER_TEXT_PATTERN}', {v}) THEN CAST({trimmed} AS NUMERIC) END)"
            return {"integer": v, "real": v, "text": text}
        if value_type == R.DATE:
            return {"text": f"(CASE WHEN monitoring_regexp('{DATE_TEXT_PATTERN}', {v}) THEN substr({v}, 1, 10) END)"}
        if value_type == R.BOOLEAN:
            text = f"(CASE WHEN lower({v}) IN ('true', 'false') THEN lower({v}) = 'true' END)"
            return {"true": "TRUE", "false": "FALSE", "text": text}
        return {"text": v}

    def empty_by_kind(self, path) -> dict[str, str]:
        v = self.value(path)
        return {
            "text": f"trim({v}, ' ') = ''",
            "array": f"json_array_length({self.data}, {self._path(path)}) = 0",
            "object": f"{v} = '{{}}'",
        }

    def regex(self, text: str) -> str:
        return f"monitoring_regexp(%s, {text})"

    def pattern(self, pattern: str) -> str:
        return pattern  # monitoring_regexp runs Python's syntax

    def contains(self, path, value, value_type: str) -> tuple[dict[str, str], list]:
        # Typed: SQLite reads JSON true as 1, which must not equal the number 1.
        kinds = "'integer', 'real'" if value_type == R.NUMBER else "'text'"
        array = (
            f"EXISTS (SELECT 1 FROM json_each({self.data}, {self._path(path)}) AS e "
            f"WHERE e.type IN ({kinds}) AND e.value = %s)"
        )
        if value_type == R.NUMBER:
            return {"array": array}, [self.number_param(value)]
        return {"text": f"instr({self.value(path)}, %s) > 0", "array": array}, [value, value]

    def number_param(self, value):
        # SQLite compares an integer with a real exactly: an int64 stays an int, 2**53 + 1 is not 2**53.
        return value if isinstance(value, int) and -(2**63) <= value < 2**63 else float(value)

    def actual(self, path) -> str:
        return f"({self.data} -> {self._path(path)})"

    def actual_object(self, paths: list[tuple[str, list]]) -> str:
        pairs = ", ".join(f"'{name}', json({self.data} -> {self._path(p)})" for name, p in paths)
        return f"json_object({pairs})"


_JSONPATH_COMPARISONS = {"equals": "==", "not_equals": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
# jsonpath tries a list's items one by one, where PostgreSQL hashes an IN list from 9 items on.
_JSONPATH_MAX_LIST = 8


def _jsonpath_literal(value, value_type: str) -> str:
    if value_type == R.NUMBER:
        return format(Decimal(str(value)), "f")  # no exponent: the same numeric as the SQL parameter
    if value_type == R.BOOLEAN:
        return "true" if value else "false"
    return json.dumps(value)  # a jsonpath string literal takes JSON's escapes


def _jsonpath_predicate(op: str, value, value_type: str) -> str | None:
    """A jsonpath filter on ``@`` that is true only for a value that meets the rule, or None.

    Only where jsonpath and the typed CASE agree on what a value means: exact equality of strings,
    numbers and booleans, string prefixes, the order of numbers and of days. Not for the order of
    other strings (jsonpath orders by code point, SQL by collation), nor for numbers written as
    strings, which jsonpath does not convert."""
    if value_type == R.DATE:
        return _jsonpath_day_predicate(op, value)
    if op == "between" and value_type == R.NUMBER:
        low, high = (_jsonpath_literal(v, R.NUMBER) for v in value)
        return f"@ >= {low} && @ <= {high}"
    if op in ("in", "not_in") and len(value) <= _JSONPATH_MAX_LIST:
        item_type = R.NUMBER if R.list_is_numeric(value) else R.STRING
        member = " || ".join(f"@ == {_jsonpath_literal(v, item_type)}" for v in value)
        return member if op == "in" else f"!({member})"
    if op == "starts_with":  # jsonpath compares bytes, SQL characters: the same for valid UTF-8
        return f"@ starts with {_jsonpath_literal(value, R.STRING)}"
    equality = op in ("equals", "not_equals") and value_type in (R.STRING, R.BOOLEAN)
    if op in _JSONPATH_COMPARISONS and (value_type == R.NUMBER or equality):
        return f"@ {_JSONPATH_COMPARISONS[op]} {_jsonpath_literal(value, value_type)}"
    return None


def _jsonpath_day_predicate(op: str, value) -> str | None:
    """For a date rule: the value is a string that passes DATE_TEXT_PATTERN (``like_regex``, the
    same regex engine as ``~``) and whose first 10 characters compare as the rule asks. jsonpath
    compares strings by code point, as the C collation does; a longer value (a date-time) compares
    by its day thanks to the bounds: a string at or after "2026-01-0:" (':' follows '9') has a day
    after 2026-01-09, and one before "2026-01-09" a day before it."""

    def bound(day: str, *, after: bool = False) -> str:
        return json.dumps(day[:9] + chr(ord(day[9]) + 1) if after else day)

    if op == "between":
        proof = f"@ >= {bound(value[0])} && @ < {bound(value[1], after=True)}"
    else:
        proof = {
            "lt": f"@ < {bound(value)}",
            "lte": f"@ < {bound(value, after=True)}",
            "gt": f"@ >= {bound(value, after=True)}",
            "gte": f"@ >= {bound(value)}",
            "equals": f"@ >= {bound(value)} && @ < {bound(value, after=True)}",
            "not_equals": f"@ < {bound(value)} || @ >= {bound(value, after=True)}",
        }.get(op)
    if proof is None:
        return None
    # The comparison first: && stops at a value that fails it, before the regex engine runs.
    return f"({proof}) && @ like_regex {json.dumps(DATE_TEXT_PATTERN)}"


def dialect_for(data: str = "r.data", vendor: str | None = None) -> Dialect:
    vendor = vendor or connection.vendor
    if vendor == "postgresql":
        return PostgresDialect(data)
    if vendor == "sqlite":
        return SqliteDialect(data)
    raise NotImplementedError(f"Monitoring evaluates rules on PostgreSQL and SQLite, not {vendor}.")


@dataclass
class Compiled:
    applicable: Sql
    violated: Sql


def _dispatch(kind: str, branches: dict[str, Sql], *, null: str, other: str) -> Sql:
    """``CASE kind WHEN 'null' THEN null WHEN k THEN branch … ELSE other END``, params in order."""
    whens = " ".join(f"WHEN '{k}' THEN {b.text}" for k, b in branches.items())
    return Sql(
        f"(CASE {kind} WHEN 'null' THEN {null} {whens} ELSE {other} END)",
        [p for b in branches.values() for p in b.params],
    )


class Compiler:
    """Compiles normalised conditions (``rules.validate_condition``) against one ``today``."""

    def __init__(self, dialect: Dialect, *, today: date | None = None):
        self.d = dialect
        self.today = today or timezone.localdate()  # TIME_ZONE's today, as scans use

    def compile(self, condition: dict) -> Compiled:
        op = condition["operator"]
        if op in ("all", "any", "not"):
            return self._group(op, [self.compile(c) for c in condition["conditions"]])
        path = condition["path"]
        kind = self.d.kind(path)
        if op == "exists":
            return Compiled(TRUE, Sql(f"({kind} = 'null')"))
        if op == "missing":
            return Compiled(TRUE, Sql(f"({kind} <> 'null')"))
        if op in ("is_empty", "is_not_empty"):
            empty = self.d.empty_by_kind(path)
            if op == "is_empty":
                branches = {k: Sql(f"NOT ({sql})") for k, sql in empty.items()}
                return Compiled(TRUE, _dispatch(kind, branches, null="FALSE", other="TRUE"))
            return Compiled(
                TRUE, _dispatch(kind, {k: Sql(sql) for k, sql in empty.items()}, null="TRUE", other="FALSE")
            )
        op, value, value_type = self._as_comparison(op, condition["value"], condition["value_type"])
        holds = self._holds_by_kind(op, path, value, value_type)
        violated = {k: Sql(f"NOT COALESCE({h.text}, FALSE)", h.params) for k, h in holds.items()}
        typed = _dispatch(kind, violated, null="FALSE", other="TRUE")
        fast = self.d.complies_fast(path, op, value, value_type)
        if fast is not None:  # most records comply: prove it cheaply first, else decide by type
            typed = Sql(f"(CASE WHEN {fast.text} THEN FALSE ELSE {typed.text} END)", fast.params + typed.params)
        return Compiled(self.d.present(path), typed)

    def _group(self, op: str, children: list[Compiled]) -> Compiled:
        applicable = _join("OR", [c.applicable for c in children])
        if op == "all":
            return Compiled(applicable, _join("OR", [c.violated for c in children]))
        held = [_join("AND", [c.applicable, _not(c.violated)]) for c in children]
        if op == "any":
            return Compiled(applicable, _join("AND", [applicable, _not(_join("OR", held))]))
        return Compiled(children[0].applicable, held[0])  # not

    def _as_comparison(self, op: str, value, value_type: str) -> tuple[str, object, str]:
        """The date operators as the comparison of the value's day they are (against today's cutoff
        for the relative ones); any other operator as it is."""
        if op in ("older_than", "within_last"):
            cutoff = (self.today - timedelta(days=int(value))).isoformat()
            return ("lt" if op == "older_than" else "gte"), cutoff, R.DATE
        if op in ("before", "after"):
            return ("lt" if op == "before" else "gt"), value, R.DATE
        return op, value, value_type

    def _param(self, value, value_type: str):
        return self.d.number_param(value) if value_type == R.NUMBER else value

    def _holds_by_kind(self, op: str, path, value, value_type: str) -> dict[str, Sql]:
        """JSON type → SQL that is true when the value of that type meets the rule (NULL: it does not)."""
        if op == "contains":
            branches, params = self.d.contains(path, value, value_type)
            out, taken = {}, 0
            for k, sql in branches.items():
                count = sql.count("%s")
                out[k] = Sql(sql, params[taken : taken + count])
                taken += count
            return out
        if op in ("in", "not_in"):
            numeric = R.list_is_numeric(value)
            items = [self.d.number_param(v) if numeric else v for v in value]
            negate = "NOT " if op == "not_in" else ""
            marks = ", ".join(["%s"] * len(items))
            typed = self.d.typed(path, R.NUMBER if numeric else R.STRING)
            return {k: Sql(f"({v} {negate}IN ({marks}))", list(items)) for k, v in typed.items()}
        typed = self.d.typed(path, R.STRING if op in ("starts_with", "matches") else value_type)
        return {k: self._holds(op, v, value, value_type) for k, v in typed.items()}

    def _holds(self, op: str, typed: str, value, value_type: str) -> Sql:
        comparisons = {"equals": "=", "not_equals": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        if op in comparisons:
            return Sql(f"({typed} {comparisons[op]} %s)", [self._param(value, value_type)])
        if op == "between":
            return Sql(f"({typed} BETWEEN %s AND %s)", [self._param(v, value_type) for v in value])
        if op == "starts_with":
            return Sql(f"(substr({typed}, 1, length(%s)) = %s)", [value, value])
        if op == "matches":
            return Sql(self.d.regex(typed), [self.d.pattern(value)])
        raise ValueError(f"unknown operator {op}")

    def actual(self, condition: dict) -> str:
        """SQL of the evidence's actual value: the value at the path, or an object of them for a group."""
        if not condition["conditions"]:
            return self.d.actual(condition["path"])
        unique = list(dict.fromkeys(leaf["field"] for leaf in R.leaves(condition)))
        return self.d.actual_object([(name, R.parse_path(name)) for name in unique])
