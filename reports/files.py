"""Report files on disk: names derived from the report id only, atomic writes, CSV cells safe to open."""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import uuid
from pathlib import Path

from django.conf import settings

# A cell that a spreadsheet would read as a formula (CWE-1236) gets a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
SAFE_NAME = re.compile(r"^[a-z_]+-[0-9a-f-]{36}\.(csv|json)$")


def reports_dir() -> Path:
    return Path(settings.REPORTS_DIR)


def file_names(*, kind: str, report_id: uuid.UUID) -> tuple[str, str]:
    """(CSV name, JSON name) of a report: nothing in them comes from a request."""
    stem = f"{kind}-{uuid.UUID(str(report_id))}"
    return f"{stem}.csv", f"{stem}.json"


def path_of(name: str) -> Path:
    """The path of a stored report file; refuses any name this module would not have made."""
    if not SAFE_NAME.match(name or ""):
        raise ValueError(f"not a report file name: {name!r}")
    return reports_dir() / name


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _atomic_write(path: Path, write, *, newline: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_csv(name: str, header, rows) -> None:
    """Write ``rows`` (iterables of already formatted values) under ``header``; every cell made safe."""

    def write(handle):
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([safe_cell(value) for value in row])

    _atomic_write(path_of(name), write, newline="")


def write_json(name: str, document: dict) -> None:
    _atomic_write(path_of(name), lambda handle: json.dump(document, handle, indent=2, sort_keys=False, default=str))


def read_json(name: str) -> dict:
    with open(path_of(name), encoding="utf-8") as handle:
        return json.load(handle)


def remove(name: str) -> None:
    if name:
        path_of(name).unlink(missing_ok=True)
