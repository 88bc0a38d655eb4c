"""Records from CSV or JSON lines, upserted by (source, external id) in batches.

Good rows are imported, bad rows reported with their line and reason; ``updated_at`` moves only
when a record's data changed (or a deleted record comes back), so re-importing a file changes
nothing and the next incremental scan reads only what really changed.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from jobs.db import MAX_JSON_DEPTH, json_nodes
from jobs.errors import ValidationFailed
from jobs.validation import string_problem
from monitoring.conf import monitoring_setting
from monitoring.models import Record

FORMATS = ("csv", "jsonl")
MAX_REPORTED_ERRORS = 1000
MAX_SOURCE_LENGTH = 100
MAX_ID_LENGTH = 200
NOT_UTF8 = "not valid UTF-8"
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0

    def error(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "reason": reason})

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def format_of(name: str, declared: str | None = None) -> str:
    if declared:
        if declared not in FORMATS:
            raise ValidationFailed(f"format: use one of {', '.join(FORMATS)}", details={"field": "format"})
        return declared
    lowered = (name or "").lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise ValidationFailed("format: cannot tell from the file name; say csv or jsonl", details={"field": "format"})


@contextmanager
def _csv_text(binary) -> Iterator[io.TextIOWrapper]:
    """The stream as text for the csv module: UTF-8 without its BOM, lines ended by CR, LF or CRLF
    only (newline="": a cell may hold U+2028 or a form feed). Bytes that are not UTF-8 become lone
    surrogates (surrogateescape): their row is refused, not the file, and nothing is replaced silently."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield text
    finally:
        text.detach()  # the caller's stream stays open: the command reads its position for the progress bar


def _not_utf8(texts) -> bool:
    """Whether texts read with surrogateescape held bytes that were not UTF-8 (lone surrogates now)."""
    try:
        for text in texts:
            if isinstance(text, str):  # a short row's missing cells are None
                text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _csv_header(reader: csv.DictReader, id_field: str) -> None:
    """Refuse a file whose header cannot name its rows' fields (ValidationFailed, before any row is read)."""
    try:
        names = reader.fieldnames
    except csv.Error as exc:
        raise ValidationFailed(f"file: the CSV header is not CSV: {exc}", details={"field": "file"}) from None
    if names and _not_utf8(names):
        raise ValidationFailed(f"file: the CSV header is {NOT_UTF8}", details={"field": "file", "reason": NOT_UTF8})
    duplicate = next((name for name, count in Counter(names or ()).items() if count > 1), None)
    if duplicate is not None:  # DictReader would keep the last of the two cells and drop the other
        reason = f"the CSV header names the column {duplicate!r} twice"
        raise ValidationFailed(f"file: {reason}", details={"field": "file", "reason": reason, "column": duplicate})
    if names is None or id_field not in names:
        raise ValidationFailed(
            f"id_field: the CSV header has no column {id_field!r}", details={"field": "id_field", "reason": "missing"}
        )


def _csv_rows(binary, id_field: str) -> Iterator[tuple[int, object, str | None]]:
    with _csv_text(binary) as text:
        # strict: an unclosed quote is an error on its line, not a cell that swallows the rows after it.
        reader = csv.DictReader(text, strict=True)
        _csv_header(reader, id_field)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a cell over the csv module's size limit: skip the row, go on
                yield reader.line_num + 1, None, f"not CSV: {exc}"  # the line it failed to finish
                continue
            line = reader.line_num
            if None in row:
                yield line, None, "more cells than header columns"
                continue
            if _not_utf8(row.values()):
                yield line, None, NOT_UTF8
                continue
            # An empty cell is an absent value, not an empty string.
            yield line, {k: v for k, v in row.items() if v not in (None, "")}, None


def _jsonl_rows(binary) -> Iterator[tuple[int, object, str | None]]:
    # Lines end at LF only (CRLF too): a JSON text may hold U+2028, U+0085 or a form feed, where text
    # readers split lines too; a line that is not UTF-8 is its own bad row.
    for number, raw in enumerate(binary, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None, NOT_UTF8
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield number, None, f"not JSON: {exc}"
            continue
        except RecursionError:  # arrays or objects nested about a thousand deep
            yield number, None, TOO_DEEP
            continue
        if not isinstance(value, dict):
            yield number, None, "not a JSON object"
            continue
        yield number, value, None


def _external_id(data: dict, id_field: str) -> tuple[str | None, str]:
    value = data.get(id_field)
    if value is None or value == "" or isinstance(value, (dict, list, bool)):
        return None, f"no usable {id_field!r} (a string or a number)"
    text = str(value).strip()
    if not text or len(text) > MAX_ID_LENGTH:
        return None, f"{id_field!r} must have 1 to {MAX_ID_LENGTH} characters"
    return text, ""


def _unstorable(data) -> str:
    """Why a parsed record cannot be stored (one such row would sink its whole batch), or ''.

    Texts PostgreSQL refuses, and nesting deeper than MAX_JSON_DEPTH: the parser follows about a
    thousand levels, the JSON encoders of the write and of every later read fewer (RecursionError).
    """
    for node, depth, _, _ in json_nodes(data):  # it stops at the first container too deep
        if isinstance(node, (dict, list)) and depth >= MAX_JSON_DEPTH:
            return TOO_DEEP
        problem = string_problem(node) if isinstance(node, str) else None
        if problem:
            return f"a text {problem}"
    return ""


def records_import(
    *,
    source: str,
    stream,
    fmt: str,
    id_field: str = "id",
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import records from a binary stream of CSV or JSON lines into ``source``."""
    if not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE_LENGTH:
        raise ValidationFailed(f"source: 1 to {MAX_SOURCE_LENGTH} characters", details={"field": "source"})
    problem = string_problem(source)
    if problem:  # the command's argument: the API's form field refuses a NUL already
        raise ValidationFailed(f"source: the text {problem}", details={"field": "source", "reason": problem})
    if fmt not in FORMATS:
        raise ValidationFailed(f"format: use one of {', '.join(FORMATS)}", details={"field": "format"})
    source = source.strip()
    rows = _csv_rows(stream, id_field) if fmt == "csv" else _jsonl_rows(stream)
    result = ImportResult()
    batch: dict[str, dict] = {}
    batch_size = monitoring_setting("IMPORT_BATCH_SIZE")
    max_bytes = monitoring_setting("MAX_RECORD_BYTES")
    for line, data, problem in rows:
        result.rows += 1
        if problem:
            result.error(line, problem)
            continue
        external_id, problem = _external_id(data, id_field)
        if problem:
            result.error(line, problem)
            continue
        problem = _unstorable(data)  # first: it bounds the depth json.dumps must follow
        if problem:
            result.error(line, problem)
            continue
        try:
            size = len(json.dumps(data, allow_nan=False))
        except ValueError:
            result.error(line, "NaN and Infinity are not JSON")
            continue
        if size > max_bytes:
            result.error(line, f"the record has {size} bytes of JSON; the limit is {max_bytes}")
            continue
        batch[external_id] = data  # a later line with the same id wins
        if len(batch) >= batch_size:
            _write_batch(source, batch, result)
            batch = {}
            if on_progress:
                on_progress(result.rows)
    if batch:
        _write_batch(source, batch, result)
    if on_progress:
        on_progress(result.rows)
    return result


def _write_batch(source: str, batch: dict[str, dict], result: ImportResult) -> None:
    now = timezone.now()
    with transaction.atomic():
        existing = {
            r.external_id: r
            for r in Record.objects.filter(source=source, external_id__in=list(batch)).only(
                "id", "external_id", "data", "deleted_at"
            )
        }
        new, changed = [], []
        for external_id, data in batch.items():
            record = existing.get(external_id)
            if record is None:
                new.append(Record(source=source, external_id=external_id, data=data, created_at=now, updated_at=now))
            elif record.data != data or record.deleted_at is not None:
                result.restored += record.deleted_at is not None
                record.data, record.updated_at, record.deleted_at = data, now, None
                changed.append(record)
            else:
                result.unchanged += 1
        Record.objects.bulk_create(new, batch_size=1000)
        Record.objects.bulk_update(changed, ["data", "updated_at", "deleted_at"], batch_size=1000)
    result.created += len(new)
    result.updated += len(changed)


def records_import_text(*, source: str, text: str, fmt: str, id_field: str = "id") -> ImportResult:
    return records_import(source=source, stream=io.BytesIO(text.encode()), fmt=fmt, id_field=id_field)
