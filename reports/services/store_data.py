"""Writes of store data: import the three CSVs (all or nothing), seed a small demo data set."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.db import transaction

from jobs.errors import ValidationFailed
from reports import bulk, store_input
from reports.computations import store_uptime
from reports.models import StorePoll

# --- Import ----------------------------------------------------------------------------------------


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


ProgressFactory = Callable[..., object]  # (desc=..., total=..., unit=...) -> an object with update() and close()


def _null_progress(**kwargs):
    return _NullBar()


@dataclass
class ImportResult:
    files: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"files": self.files, "seconds": self.seconds}


def store_data_import(*, sources: Mapping[str, object], progress: ProgressFactory | None = None) -> ImportResult:
    """Import any of store_status.csv, menu_hours.csv and timezones.csv (paths or binary file objects).

    Every file is read and checked first; if any is rejected (missing columns, bad rows) nothing is
    written and ValidationFailed says why, per file, with line numbers. Otherwise all files are loaded
    in one transaction. Importing the same files again changes nothing:

    * polls are merged: one per (store, instant), inactive if any row of that instant is inactive;
    * a store's business hours are replaced by the file's rows for that store;
    * a store's time zone is set from its first row in the file.
    """
    progress = progress or _null_progress
    started = time.perf_counter()
    unknown = sorted(set(sources) - set(store_input.FILE_NAMES))
    if unknown or not sources:
        raise ValidationFailed(
            f"Expected one or more of {', '.join(store_input.FILE_NAMES)}; got {', '.join(unknown) or 'nothing'}.",
            details={"expected": list(store_input.FILE_NAMES)},
        )
    parsed: dict[str, store_input.ParsedFile] = {}
    problems: list[dict] = []
    for name in store_input.FILE_NAMES:
        if name not in sources:
            continue
        bar = progress(desc=f"reading {name}", total=None, unit="rows")
        try:
            parsed[name] = store_input.PARSERS[name](sources[name], name, advance=bar.update)
        except store_input.InputFileError as exc:
            problems.append({"file": name, "error": str(exc)})
            continue
        finally:
            bar.close()
        if not parsed[name].ok:
            bad = parsed[name].bad_rows
            problems.append({"file": name, "error": f"{name}: {bad.summary()}.", "bad_rows": bad.as_dict()})
    if problems:
        message = " ".join(p["error"] for p in problems) + " Nothing was imported."
        raise ValidationFailed(message, details={"files": problems}, code="invalid_store_data")

    result = ImportResult()
    with transaction.atomic():
        if store_input.TIMEZONES in parsed:
            result.files.append(_import_timezones(parsed[store_input.TIMEZONES], progress))
        if store_input.MENU_HOURS in parsed:
            result.files.append(_import_hours(parsed[store_input.MENU_HOURS], progress))
        if store_input.STORE_STATUS in parsed:
            result.files.append(_import_polls(parsed[store_input.STORE_STATUS], progress))
    # Includes reading the files and the commit (where PostgreSQL checks the polls' foreign keys).
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _import_timezones(parsed: store_input.ParsedFile, progress) -> dict:
    started = time.perf_counter()
    bar = progress(desc="loading time zones", total=len(parsed), unit="rows")
    store_ids = [parsed.store_ids[code] for code in parsed.store_code.tolist()]
    bulk.set_timezones(store_ids, parsed.columns["timezone_str"].tolist())
    bar.update(len(parsed))
    bar.close()
    return {
        "file": parsed.name,
        "rows": parsed.rows,
        "stores": len(parsed),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _store_keys(parsed: store_input.ParsedFile) -> np.ndarray:
    """The primary key of each row's store (stores are created as needed)."""
    keys = bulk.ensure_stores(parsed.store_ids)
    return np.array([keys[s] for s in parsed.store_ids], dtype=np.int64)[parsed.store_code]


def _import_hours(parsed: store_input.ParsedFile, progress) -> dict:
    started = time.perf_counter()
    store_keys = _store_keys(parsed)
    bar = progress(desc="loading business hours", total=len(parsed), unit="rows")
    columns = parsed.columns
    written = bulk.replace_hours(store_keys, columns["day"], columns["start_us"], columns["end_us"], bar.update)
    bar.close()
    return {
        "file": parsed.name,
        "rows": parsed.rows,
        "stores": len(parsed.store_ids),
        "hours_rows": written,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _import_polls(parsed: store_input.ParsedFile, progress) -> dict:
    started = time.perf_counter()
    stores, times, active, merged = store_uptime.merge_polls(
        _store_keys(parsed), parsed.columns["time_us"], parsed.columns["active"]
    )
    bar = progress(desc="loading polls", total=int(stores.size), unit="rows")
    new = bulk.add_polls(stores, times, active, bar.update)
    bar.close()
    return {
        "file": parsed.name,
        "rows": parsed.rows,
        "stores": len(parsed.store_ids),
        "polls": int(stores.size),
        "new_polls": int(new),
        "merged_duplicate_rows": int(merged),
        "seconds": round(time.perf_counter() - started, 3),
    }


def store_data_import_directory(*, directory, progress: ProgressFactory | None = None) -> ImportResult:
    """Import the store CSVs found in ``directory`` (``name.csv`` or ``name.csv.gz``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValidationFailed(f"{directory} is not a directory.")
    sources = {}
    for name in store_input.FILE_NAMES:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                sources[name] = candidate
                break
    if not sources:
        raise ValidationFailed(f"{directory} holds none of {', '.join(store_input.FILE_NAMES)}.")
    return store_data_import(sources=sources, progress=progress)


def seed_demo_data(*, stores: int = 20) -> dict:
    """Import a small generated data set so that a new user can trigger a store report at once.

    Does nothing when polls exist already; returns what was imported.
    """
    from reports.demo import write_demo_csvs

    if StorePoll.objects.exists():
        return {"seeded": False, "reason": "store data exists already"}
    with tempfile.TemporaryDirectory(prefix="store-demo-") as temporary:
        write_demo_csvs(Path(temporary), stores=stores)
        result = store_data_import_directory(directory=temporary)
    return {"seeded": True, **result.as_dict()}
