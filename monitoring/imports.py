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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from jobs.errors import ValidationFailed
from jobs.validation import string_problem
from monitoring.conf import monitoring_setting
from monitoring.models import Record

FORMATS = ("csv", "jsonl")
MAX_REPORTED_ERRORS = 1000
MAX_SOURCE_LENGTH = 100
MAX_ID_LENGTH = 200


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


def _text_lines(binary) -> Iterator[str]:
    return codecs.getreader("utf-8-sig")(binary, errors="replace")


def _csv_rows(binary, id_field: str) -> Iterator[tuple[int, object, str | None]]:
    reader = csv.DictReader(_text_lines(binary))
    if reader.fieldnames is None or id_field not in reader.fieldnames:
        raise ValidationFailed(
            f"id_field: the CSV header has no column {id_field!r}", details={"field": "id_field", "reason": "missing"}
        )
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
        # An empty cell is an absent value, not an empty string.
        yield line, {k: v for k, v in row.items() if v not in (None, "")}, None


def _jsonl_rows(binary) -> Iterator[tuple[int, object, str | None]]:
    for number, raw in enumerate(_text_lines(binary), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            yield number, None, f"not JSON: {exc}"
            continue
        except RecursionError:  # arrays or objects nested about a thousand deep
            yield number, None, "JSON nested too deeply"
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


def _unstorable_text(data) -> str:
    """Why a parsed record's texts cannot be stored (one such row would sink its whole batch), or ''."""
    pending = [data]
    while pending:  # not recursive: the parser already accepted deep nesting
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            problem = string_problem(item)
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
        try:
            size = len(json.dumps(data, allow_nan=False))
        except ValueError:
            result.error(line, "NaN and Infinity are not JSON")
            continue
        problem = _unstorable_text(data)
        if problem:
            result.error(line, problem)
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
