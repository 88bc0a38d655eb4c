"""JSON (the standard library; strings and numbers become text lines) and CSV / TSV (``csv``)."""

from __future__ import annotations

import csv
import io
import json

from documents.extractors.base import Extraction, ExtractionError, Limits, TextCollector
from documents.extractors.text import read_text


def _walk(value, collector: TextCollector, key: str = "") -> None:
    """Depth-first, iterative (deep nesting must not blow the stack): "key: value" lines."""
    stack = [(key, value)]
    while stack and not collector.full:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((key, item) for item in reversed(value))
        elif value is not None and not isinstance(value, bool):
            collector.add(f"{key}: {value}" if key else str(value))


def extract_json(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    source, encoding = read_text(path, limits)
    try:
        value = json.loads(source)
    except (ValueError, RecursionError) as exc:
        raise ExtractionError(f"The JSON is not valid ({str(exc)[:200]}).") from None
    metadata = {"encoding": encoding, "json_type": type(value).__name__}
    if isinstance(value, dict):
        metadata["keys"] = len(value)
        for field in ("title", "name"):
            if isinstance(value.get(field), str):
                metadata["title"] = value[field][:500]
                break
    elif isinstance(value, list):
        metadata["items"] = len(value)
    extraction = Extraction(metadata=metadata)
    if metadata_only:
        return extraction
    collector = TextCollector(limits.max_text_chars)
    _walk(value, collector)
    if collector.full:
        collector.truncated = True
    return collector.finish(extraction)


def extract_csv(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    source, encoding = read_text(path, limits)
    if mime_type == "text/tab-separated-values":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(source[:20000], delimiters=",;|\t").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(max(limits.max_text_chars, 131072))
    collector = TextCollector(limits.max_text_chars)
    rows = columns = 0
    header: list[str] = []
    try:
        for row in csv.reader(io.StringIO(source, newline=""), delimiter=delimiter):
            if not row:
                continue
            if not header:
                header = [cell.strip() for cell in row]
            rows += 1
            columns = max(columns, len(row))
            if not metadata_only:
                collector.add(" | ".join(cell.strip() for cell in row))
    except csv.Error as exc:
        raise ExtractionError(f"The {'TSV' if delimiter == chr(9) else 'CSV'} is malformed ({exc}).") from None
    metadata = {"encoding": encoding, "rows": rows, "columns": columns, "delimiter": delimiter, "header": header[:50]}
    extraction = Extraction(metadata=metadata)
    if metadata_only:
        return extraction
    return collector.finish(extraction)
