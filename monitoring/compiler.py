"""Rules compiled to SQL on the JSON data, for PostgreSQL (jsonb) and SQLite (JSON1).

Every condition compiles to two boolean expressions over a record's data, never NULL:
``applicable`` (A) and ``violated`` (V). A leaf on a missing path is not applicable, except the
presence operators (exists, missing, is_empty, is_not_empty). A present value of the wrong type
for the rule's value type violates it: it cannot be shown to comply. Groups combine as
``all``: A = any A_i, V = any V_i; ``any``: A = any A_i, V = A and no child holds (A_i and not V_i);
``not``: A = A_c, V = A_c and not V_c.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection

from monitoring import rules as R

NUMBER_TEXT_PATTERN = r"^\s*-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*$"
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


TRUE, FALSE = Sql("TRUE"), Sql("FALSE")


class Dialect:
    """How one database reads JSON: extraction, types, casts. ``data`` is the SQL of the JSON column."""

    def __init__(self, data: str):
        self.data = data

    def number_param(self, value):
        raise NotImplementedError


class PostgresDialect(Dialect):
    vendor = "postgresql"

    def _path(self, path) -> str:
        # Safe to inline: a validated path has only [A-Za-z0-9_-] keys and integer indexes.
        return "'{" + ",".join(str(p) for p in path) + "}'"

    def json(self, path) -> str:
        return f"({self.data} #> {self._path(path)})"

    def kind(self, path) -> str:
        return f"jsonb_typeof({self.json(path)})"

    def text(self, path) -> str:
        return f"({self.data} #>> {self._path(path)})"

    def present(self, path) -> Sql:
        return Sql(f"COALESCE({self.kind(path)} <> 'null', FALSE)")

    def string(self, path) -> str:
        return f"(CASE WHEN {self.kind(path)} = 'string' THEN {self.text(path)} END)"

    def number(self, path) -> str:
        k, t = self.kind(path), self.text(path)
        return (
            f"(CASE WHEN {k} = 'number' THEN {t}::numeric "
            f"WHEN {k} = 'string' AND {t} ~ '{NUMBER_TEXT_PATTERN}' THEN btrim({t})::numeric END)"
        )

    def day(self, path) -> str:
        k, t = self.kind(path), self.text(path)
        return f"(CASE WHEN {k} = 'string' AND {t} ~ '{DATE_TEXT_PATTERN}' THEN left({t}, 10) END)"

    def boolean(self, path) -> str:
        k, t = self.kind(path), self.text(path)
        return (
            f"(CASE WHEN {k} = 'boolean' THEN {t}::boolean "
            f"WHEN {k} = 'string' AND lower({t}) IN ('true', 'false') THEN lower({t}) = 'true' END)"
        )

    def empty(self, path) -> str:
        k, t, j = self.kind(path), self.text(path), self.json(path)
        return (
            f"(CASE {k} WHEN 'string' THEN btrim({t}, ' ') = '' WHEN 'array' THEN jsonb_array_length({j}) = 0 "
            f"WHEN 'object' THEN {j} = '{{}}'::jsonb ELSE FALSE END)"
        )

    def regex(self, text: str) -> Sql:
        return Sql(f"({text} ~ %s)")

    def contains_string(self, path, value: str) -> Sql:
        k = self.kind(path)
        return Sql(
            f"(CASE WHEN {k} = 'string' THEN strpos({self.text(path)}, %s) > 0 "
            f"WHEN {k} = 'array' THEN {self.json(path)} @> %s::jsonb END)",
            [value, json.dumps([value])],
        )

    def contains_number(self, path, value) -> Sql:
        return Sql(
            f"(CASE WHEN {self.kind(path)} = 'array' THEN {self.json(path)} @> %s::jsonb END)", [json.dumps([value])]
        )

    def number_param(self, value):
        return Decimal(str(value))

    def actual(self, path) -> str:
        return self.json(path)

    def actual_object(self, paths: list[tuple[str, list]]) -> str:
        pairs = ", ".join(f"'{name}', {self.json(path)}" for name, path in paths)
        return f"jsonb_build_object({pairs})"


TEXT_KINDS, NUMBER_KINDS = "'text'", "'integer', 'real'"


class SqliteDialect(Dialect):
    vendor = "sqlite"

    def _path(self, path) -> str:
        return "'$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in path) + "'"

    def json(self, path) -> str:
        return f"json_extract({self.data}, {self._path(path)})"

    def kind(self, path) -> str:
        return f"json_type({self.data}, {self._path(path)})"

    def present(self, path) -> Sql:
        return Sql(f"COALESCE({self.kind(path)} <> 'null', FALSE)")

    def string(self, path) -> str:
        return f"(CASE WHEN {self.kind(path)} = 'text' THEN {self.json(path)} END)"

    def number(self, path) -> str:
        k, v = self.kind(path), self.json(path)
        return (
            f"(CASE WHEN {k} IN ('integer', 'real') THEN {v} "
            f"WHEN {k} = 'text' AND monitoring_regexp('{NUMBER_TEXT_PATTERN}', {v}) THEN CAST(trim({v}) AS REAL) END)"
        )

    def day(self, path) -> str:
        k, v = self.kind(path), self.json(path)
        return f"(CASE WHEN {k} = 'text' AND monitoring_regexp('{DATE_TEXT_PATTERN}', {v}) THEN substr({v}, 1, 10) END)"

    def boolean(self, path) -> str:
        k, v = self.kind(path), self.json(path)
        return (
            f"(CASE WHEN {k} = 'true' THEN TRUE WHEN {k} = 'false' THEN FALSE "
            f"WHEN {k} = 'text' AND lower({v}) IN ('true', 'false') THEN lower({v}) = 'true' END)"
        )

    def empty(self, path) -> str:
        k, v = self.kind(path), self.json(path)
        return (
            f"(CASE {k} WHEN 'text' THEN trim({v}, ' ') = '' "
            f"WHEN 'array' THEN json_array_length({self.data}, {self._path(path)}) = 0 "
            f"WHEN 'object' THEN {v} = '{{}}' ELSE FALSE END)"
        )

    def regex(self, text: str) -> Sql:
        return Sql(f"monitoring_regexp(%s, {text})")

    def _array_has(self, path, kinds: str) -> str:
        # Typed: SQLite reads JSON true as 1, which must not equal the number 1.
        return (
            f"EXISTS (SELECT 1 FROM json_each({self.data}, {self._path(path)}) AS e "
            f"WHERE e.type IN ({kinds}) AND e.value = %s)"
        )

    def contains_string(self, path, value: str) -> Sql:
        k = self.kind(path)
        return Sql(
            f"(CASE WHEN {k} = 'text' THEN instr({self.json(path)}, %s) > 0 "
            f"WHEN {k} = 'array' THEN {self._array_has(path, TEXT_KINDS)} END)",
            [value, value],
        )

    def contains_number(self, path, value) -> Sql:
        return Sql(
            f"(CASE WHEN {self.kind(path)} = 'array' THEN {self._array_has(path, NUMBER_KINDS)} END)",
            [self.number_param(value)],
        )

    def number_param(self, value):
        return float(value)

    def actual(self, path) -> str:
        return f"({self.data} -> {self._path(path)})"

    def actual_object(self, paths: list[tuple[str, list]]) -> str:
        pairs = ", ".join(f"'{name}', json({self.data} -> {self._path(p)})" for name, p in paths)
        return f"json_object({pairs})"


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


class Compiler:
    """Compiles normalised conditions (``rules.validate_condition``) against one ``today``."""

    def __init__(self, dialect: Dialect, *, today: date | None = None):
        self.d = dialect
        self.today = today or date.today()

    def compile(self, condition: dict) -> Compiled:
        op = condition["operator"]
        if op in ("all", "any", "not"):
            return self._group(op, [self.compile(c) for c in condition["conditions"]])
        path = condition["path"]
        present = self.d.present(path)
        if op == "exists":
            return Compiled(TRUE, _not(present))
        if op == "missing":
            return Compiled(TRUE, present)
        empty = Sql(self.d.empty(path))
        if op == "is_empty":
            return Compiled(TRUE, _join("AND", [present, _not(empty)]))
        if op == "is_not_empty":
            return Compiled(TRUE, _join("OR", [_not(present), empty]))
        holds = self._holds(op, path, condition["value"], condition["value_type"])
        return Compiled(present, _join("AND", [present, _not(Sql(f"COALESCE({holds.text}, FALSE)", holds.params))]))

    def _group(self, op: str, children: list[Compiled]) -> Compiled:
        applicable = _join("OR", [c.applicable for c in children])
        if op == "all":
            return Compiled(applicable, _join("OR", [c.violated for c in children]))
        held = [_join("AND", [c.applicable, _not(c.violated)]) for c in children]
        if op == "any":
            return Compiled(applicable, _join("AND", [applicable, _not(_join("OR", held))]))
        return Compiled(children[0].applicable, held[0])  # not

    def _typed(self, path, value_type: str) -> str:
        return {
            R.STRING: self.d.string,
            R.NUMBER: self.d.number,
            R.DATE: self.d.day,
            R.BOOLEAN: self.d.boolean,
        }[value_type](path)

    def _param(self, value, value_type: str):
        return self.d.number_param(value) if value_type == R.NUMBER else value

    def _holds(self, op: str, path, value, value_type: str) -> Sql:
        comparisons = {"equals": "=", "not_equals": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        if op in comparisons:
            return Sql(f"({self._typed(path, value_type)} {comparisons[op]} %s)", [self._param(value, value_type)])
        if op == "between":
            low, high = (self._param(v, value_type) for v in value)
            return Sql(f"({self._typed(path, value_type)} BETWEEN %s AND %s)", [low, high])
        if op in ("in", "not_in"):
            numeric = R.list_is_numeric(value)
            typed = self.d.number(path) if numeric else self.d.string(path)
            items = [self.d.number_param(v) if numeric else v for v in value]
            negate = "NOT " if op == "not_in" else ""
            return Sql(f"({typed} {negate}IN ({', '.join(['%s'] * len(items))}))", items)
        if op == "contains":
            if value_type == R.NUMBER:
                return self.d.contains_number(path, value)
            return self.d.contains_string(path, value)
        if op == "starts_with":
            return Sql(f"(substr({self.d.string(path)}, 1, length(%s)) = %s)", [value, value])
        if op == "matches":
            regex = self.d.regex(self.d.string(path))
            return Sql(regex.text, [value])
        day = self.d.day(path)
        if op in ("before", "after"):
            return Sql(f"({day} {'<' if op == 'before' else '>'} %s)", [value])
        cutoff = (self.today - timedelta(days=int(value))).isoformat()
        if op == "older_than":
            return Sql(f"({day} < %s)", [cutoff])
        if op == "within_last":
            return Sql(f"({day} >= %s)", [cutoff])
        raise ValueError(f"unknown operator {op}")

    def actual(self, condition: dict) -> str:
        """SQL of the evidence's actual value: the value at the path, or an object of them for a group."""
        found = R.leaves(condition)
        if not condition["conditions"]:
            return self.d.actual(condition["path"])
        unique = list(dict.fromkeys(leaf["field"] for leaf in found))
        return self.d.actual_object([(name, R.parse_path(name)) for name in unique])
