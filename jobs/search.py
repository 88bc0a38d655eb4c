"""Search over a job's arguments, results and error: one text document per job, and its parser.

- Substring: ``customer-42`` matches jobs whose actor, error, args, kwargs or result contain it
  (case-insensitive). On PostgreSQL a pg_trgm GIN index over each job's document answers it
  (``search_entry_trgm_idx``, on jobs.models.JobSearchEntry, the copy of the document that
  triggers keep beside each job); terms shorter than 3 characters have no trigram and scan.
- Key/value: ``customer:42`` (or ``customer:"42"``) matches jobs whose kwargs or result hold that
  key with that JSON value: ``kwargs @> {"customer": 42}``, answered by jsonb_path_ops GIN indexes
  on the same entries. A value that is not JSON is taken as a string, and so is one that jsonb
  cannot hold (no job holds it): NaN, Infinity, a number past a float's range (``1e999``), a NUL
  or a lone surrogate in a string or key (``"\\u0000"``). ``k:1e999`` matches ``{"k": "1e999"}``.
- A job id, exactly (the primary key); an idempotency key is part of the document.

Within failed or cancelled jobs, copies of these indexes over those jobs alone serve a search
whose matches are few (jobs.selectors.jobs._search_among_dead).

SQLite (development) has no such indexes: it evaluates the same document with ``LIKE`` (ASCII
case-insensitive) and key/value with JSON1 key lookups, scanning the table.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass

from django.db.models import F, Func, Lookup, Q, TextField, Value
from django.db.models.functions import Cast, Coalesce

from jobs.validation import string_problem

KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,99}):(?P<value>\S.*)$")


class SearchDocument(Func):
    """actor, error type and message, idempotency key, args, kwargs and result as one text: the indexed expression.

    The partial indexes over failed and cancelled jobs (jobs.models.Job.Meta) and the query build
    it from this one class, so that PostgreSQL recognises the query's expression as the index's.
    The triggers of migration 0017 spell the same document for the search entries: changing it
    needs a migration that changes both.
    """

    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = TextField()

    def __init__(self):
        super().__init__(
            F("actor_name"),
            F("error_type"),
            F("error_message"),
            Coalesce(F("idempotency_key"), Value("")),
            Cast(F("args"), TextField()),
            Cast(F("kwargs"), TextField()),
            Coalesce(Cast(F("result"), TextField()), Value("")),
        )


class ContainsText(Lookup):
    """``lhs ILIKE '%term%'`` (PostgreSQL: the trigram index's operator) or ``LIKE`` elsewhere."""

    lookup_name = "contains_text"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return "%s", [f"%{escaped}%"]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            # Backslash is PostgreSQL's default LIKE escape; an ESCAPE clause would hide the
            # pattern from the trigram index's planner support.
            return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


@dataclass(frozen=True)
class ParsedSearch:
    text: str
    key: str | None = None
    value: object = None
    job_id: uuid.UUID | None = None


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _jsonb_holds(value) -> bool:
    """False for what PostgreSQL's jsonb refuses (a DataError, a 500): infinite floats, NUL, lone surrogates."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return False
        if isinstance(node, str) and string_problem(node):
            return False
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if any(string_problem(key) for key in node):
                return False
            stack.extend(node.values())
    return True


def parse(term: str) -> ParsedSearch:
    """What a search box's text asks for: a key/value pair, a job id, or a substring."""
    text = term.strip()
    try:
        return ParsedSearch(text=text, job_id=uuid.UUID(text))
    except ValueError:
        pass
    match = KEY_VALUE.match(text)
    if match:
        raw = match["value"].strip()
        try:
            value = json.loads(raw, parse_constant=_not_json)
        except ValueError:
            value = raw
        if not _jsonb_holds(value):
            value = raw
        return ParsedSearch(text=text, key=match["key"], value=value)
    return ParsedSearch(text=text)


def search_filter(term: str, *, vendor: str, on_jobs: bool = False) -> Q:
    """The condition on jobs for a search box's ``term`` (see the module's docstring).

    On PostgreSQL it reads the jobs' search entries (jobs.models.JobSearchEntry, the indexed
    copy of each job's document), unless ``on_jobs``: then it evaluates the jobs' own columns,
    which the partial indexes over failed and cancelled jobs serve (a search among those).
    """
    parsed = parse(term)
    if parsed.job_id is not None:
        return Q(pk=parsed.job_id)
    if vendor == "postgresql" and not on_jobs:
        from jobs.models import JobSearchEntry

        entries = Q(ContainsText(F("document"), parsed.text))
        if parsed.key is not None:
            pair = {parsed.key: parsed.value}
            entries |= Q(kwargs__contains=pair) | Q(result__contains=pair)
        return Q(pk__in=JobSearchEntry.objects.filter(entries).values("job_id"))
    match = Q(ContainsText(SearchDocument(), parsed.text))
    if parsed.key is not None:
        if vendor == "postgresql":
            # kwargs @> {"key": value}: the jsonb_path_ops GIN indexes' operator.
            pair = {parsed.key: parsed.value}
            match |= Q(kwargs__contains=pair) | Q(result__contains=pair)
        else:
            match |= Q(**{f"kwargs__{parsed.key}": parsed.value}) | Q(**{f"result__{parsed.key}": parsed.value})
    return match
