"""Reading and checking the three store CSVs (no database): columns by header name, bad rows with lines.

Files are read in chunks and turned into NumPy arrays at once, so memory stays near the size of the
arrays rather than of millions of Python strings. A ``ParsedFile`` holds the distinct store ids and,
per row, a store code and typed columns, or the ``bad_rows`` that make the file rejected (the
import is all-or-nothing per file). Line numbers count the header as line 1, so the first data
row is line 2 (a quoted field spanning lines would shift them: the data have none).
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.csv_limits import MAX_COLUMNS, LimitExceeded, limited_text

STORE_STATUS = "store_status.csv"
MENU_HOURS = "menu_hours.csv"
TIMEZONES = "timezones.csv"
FILE_NAMES = (STORE_STATUS, MENU_HOURS, TIMEZONES)

# Rows parsed at a time: bounds the memory of a file's strings (a web request may parse one).
CHUNK_ROWS = 100_000
MAX_STORE_ID_LENGTH = 255
MAX_TIMEZONE_LENGTH = 255
MAX_LISTED_BAD_ROWS = 100
US_PER_SECOND = 1_000_000
# A poll "in the future" beyond this is refused: a report's "now" is its latest poll, and one poll
# dated 9999-12-31 would move it for every report after.
MAX_CLOCK_SKEW_SECONDS = 300

TIME_PATTERN = r"^(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$"


class InputFileError(Exception):
    """A file that cannot be read as the expected CSV at all (missing columns, not CSV, not UTF-8)."""


@dataclass
class BadRows:
    """Bad rows of a file: the total, a count per reason, and the first rows with their line numbers."""

    count: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)

    def add(self, mask: np.ndarray, reason: str, values, lines: np.ndarray) -> None:
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        self.count += int(positions.size)
        self.by_reason[reason] = self.by_reason.get(reason, 0) + int(positions.size)
        room = max(MAX_LISTED_BAD_ROWS - len(self.examples), 0)
        for pos in positions[:room]:
            self.examples.append({"line": int(lines[pos]), "reason": reason, "value": str(values[pos])[:100]})

    def summary(self) -> str:
        shown = sorted(e["line"] for e in self.examples)[:10]
        more = "" if self.count <= len(shown) else f" and {self.count - len(shown)} more"
        reasons = "; ".join(f"{n} × {r}" for r, n in self.by_reason.items())
        return f"{self.count} bad rows ({reasons}) at lines {', '.join(map(str, shown))}{more}"

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "by_reason": self.by_reason,
            "rows": sorted(self.examples, key=lambda e: e["line"]),
        }


@dataclass
class ParsedFile:
    """A checked file: ``store_ids[store_code[i]]`` is row i's store; ``columns`` hold the typed values."""

    name: str
    rows: int
    store_ids: list[str]
    store_code: np.ndarray
    columns: dict[str, np.ndarray]
    bad_rows: BadRows

    @property
    def ok(self) -> bool:
        return self.bad_rows.count == 0

    def __len__(self) -> int:
        return int(self.store_code.size)


class _StoreIdTable:
    """Distinct, stripped store ids in order of first appearance, and the code of each."""

    def __init__(self):
        self.codes: dict[str, int] = {}

    def encode(self, raw: pd.Series, bad: BadRows, valid: np.ndarray, lines: np.ndarray) -> np.ndarray:
        local, uniques = pd.factorize(raw, sort=False)
        stripped = [str(u).strip() for u in uniques]
        lengths = np.array([len(s) for s in stripped], dtype=np.int64)[local] if len(local) else np.zeros(0, np.int64)
        if bad.count:  # the file is refused already: keep no ids (a rejected upload stays small)
            mapped = np.full(len(stripped), -1, dtype=np.int64)
        else:
            mapped = np.array(
                [self.codes.setdefault(s, len(self.codes)) if s else -1 for s in stripped], dtype=np.int64
            )
        codes = mapped[local] if len(local) else np.zeros(0, np.int64)
        values = raw.to_numpy()
        bad.add(valid & (lengths == 0), "empty store_id", values, lines)
        valid &= lengths > 0
        bad.add(
            valid & (lengths > MAX_STORE_ID_LENGTH),
            f"store_id longer than {MAX_STORE_ID_LENGTH} characters",
            values,
            lines,
        )
        valid &= lengths <= MAX_STORE_ID_LENGTH
        return codes

    def ids(self) -> list[str]:
        return list(self.codes)


# --- Reading ---------------------------------------------------------------------------------------


def _normalise_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def _open_binary(source):
    """A binary file object for a path or an (uploaded) file object; gzip by file name."""
    if hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        return source, False
    path = str(source)
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb"), True
    return open(path, "rb"), True


def _shift_line_numbers(message: str) -> str:
    """The parser counts lines from the first data row (1-based) and rows from 0: make both file lines."""
    message = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + 1}", message)
    return re.sub(r"starting at row (\d+)", lambda m: f"starting at line {int(m.group(1)) + 2}", message)


def _chunks(source, name: str, wanted: dict[str, tuple[str, ...]]) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (index of the chunk's first data row, frame of the wanted columns as strings).

    ``wanted`` maps a logical column to its accepted header names (the first present wins). Blank
    lines stay as rows of empty strings, so that a row's index still gives its line number.
    """
    handle, owned = _open_binary(source)
    text = limited_text(handle, name)
    try:
        try:
            header_line = text.readline()
        except UnicodeDecodeError:
            raise InputFileError(f"{name} is not UTF-8 text.") from None
        except LimitExceeded as exc:
            raise InputFileError(str(exc)) from None
        if not header_line.strip():
            raise InputFileError(f"{name} is empty: a header line is required.")
        try:
            header = next(csv.reader([header_line]))
        except csv.Error as exc:
            raise InputFileError(f"{name} has a malformed header line: {exc}.") from None
        if len(header) > MAX_COLUMNS:
            raise InputFileError(f"{name} has {len(header)} columns in its header; at most {MAX_COLUMNS} are read.")
        positions: dict[str, int] = {}
        for index, column in enumerate(header):
            positions.setdefault(_normalise_header(column), index)
        chosen: dict[str, int] = {}
        missing = []
        for logical, accepted in wanted.items():
            found = [positions[a.lower()] for a in accepted if a.lower() in positions]
            if found:
                chosen[logical] = found[0]
            else:
                missing.append(" or ".join(accepted))
        if missing:
            found_names = ", ".join(h.strip().lstrip("\ufeff") for h in header)
            raise InputFileError(f"{name} is missing columns: {', '.join(missing)} (found: {found_names}).")
        reader = pd.read_csv(
            text,
            header=None,
            names=list(range(len(header))),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            chunksize=CHUNK_ROWS,
        )
        offset = 0
        try:
            for chunk in reader:
                frame = pd.DataFrame({logical: chunk[index] for logical, index in chosen.items()}).fillna("")
                yield offset, frame
                offset += len(chunk)
        except pd.errors.EmptyDataError:
            return
        except LimitExceeded as exc:
            raise InputFileError(str(exc)) from None
        except pd.errors.ParserError as exc:
            raise InputFileError(f"{name} is not a well-formed CSV: {_shift_line_numbers(str(exc))}") from None
        except UnicodeDecodeError:
            raise InputFileError(f"{name} is not UTF-8 text.") from None
    finally:
        text.close()  # closes the limit checker, which leaves the caller's file open
        if owned:
            handle.close()


Convert = Callable[[pd.DataFrame, BadRows, np.ndarray, np.ndarray], dict[str, np.ndarray]]


def _ignore(rows: int) -> None:
    pass


def _parse(source, name: str, wanted: dict[str, tuple[str, ...]], convert: Convert, advance) -> ParsedFile:
    ids = _StoreIdTable()
    bad = BadRows()
    rows = 0
    codes: list[np.ndarray] = []
    parts: dict[str, list[np.ndarray]] = {}
    for offset, chunk in _chunks(source, name, wanted):
        lines = offset + np.arange(len(chunk), dtype=np.int64) + 2
        blank = np.ones(len(chunk), dtype=bool)
        for column in chunk.columns:
            blank &= (chunk[column] == "").to_numpy()
        valid = ~blank
        rows += int(valid.sum())
        chunk_codes = ids.encode(chunk["store_id"], bad, valid, lines)
        values = convert(chunk, bad, valid, lines)
        if bad.count == 0:  # once the file is rejected its values are no longer needed
            keep = ~blank
            codes.append(chunk_codes[keep])
            for key, array in values.items():
                parts.setdefault(key, []).append(array[keep])
        advance(len(chunk))
    columns = {key: np.concatenate(arrays) for key, arrays in parts.items()} if bad.count == 0 else {}
    store_code = np.concatenate(codes) if codes and bad.count == 0 else np.zeros(0, np.int64)
    return ParsedFile(name=name, rows=rows, store_ids=ids.ids(), store_code=store_code, columns=columns, bad_rows=bad)


# --- The three files -------------------------------------------------------------------------------


def _status_values(chunk: pd.DataFrame, bad: BadRows, valid: np.ndarray, lines: np.ndarray) -> dict:
    local, uniques = pd.factorize(chunk["status"], sort=False)
    normalised = np.array([str(s).strip().lower() for s in uniques], dtype=object)
    known = np.isin(normalised, ["active", "inactive"])[local] if len(local) else np.zeros(0, dtype=bool)
    bad.add(valid & ~known, "unknown status", chunk["status"].to_numpy(), lines)
    valid &= known
    active = (normalised == "active")[local] if len(local) else np.zeros(0, dtype=bool)
    raw = chunk["timestamp_utc"].to_numpy(dtype=object)
    time_us, bad_time = parse_utc_timestamps(raw)
    bad.add(valid & bad_time, "unparseable timestamp", raw, lines)
    valid &= ~bad_time
    future = time_us > int((time.time() + MAX_CLOCK_SKEW_SECONDS) * US_PER_SECOND)
    bad.add(valid & future, "timestamp in the future", raw, lines)
    valid &= ~future
    return {"time_us": time_us, "active": active}


def parse_store_status(source, name: str = STORE_STATUS, *, advance=_ignore) -> ParsedFile:
    """Columns ``store_id``, ``status`` (active/inactive), ``timestamp_utc`` → time_us, active.

    ``advance(rows)`` is called after each chunk (a progress bar).
    """
    wanted = {"store_id": ("store_id",), "status": ("status",), "timestamp_utc": ("timestamp_utc",)}
    return _parse(source, name, wanted, _status_values, advance)


def _hours_values(chunk: pd.DataFrame, bad: BadRows, valid: np.ndarray, lines: np.ndarray) -> dict:
    local, uniques = pd.factorize(chunk["day"], sort=False)
    numbers = np.array([_day_number(str(d)) for d in uniques], dtype=np.int64)
    day = numbers[local] if len(local) else np.zeros(0, np.int64)
    bad.add(valid & (day < 0), "dayOfWeek is not an integer from 0 to 6", chunk["day"].to_numpy(), lines)
    valid &= day >= 0
    values = {"day": day}
    for column in ("start", "end"):
        micros, wrong = parse_local_times(chunk[column])
        bad.add(valid & wrong, f"bad {column}_time_local", chunk[column].to_numpy(), lines)
        valid &= ~wrong
        values[f"{column}_us"] = micros
    return values


def parse_menu_hours(source, name: str = MENU_HOURS, *, advance=_ignore) -> ParsedFile:
    """Columns ``store_id``, ``dayOfWeek`` (or ``day``), ``start_time_local``, ``end_time_local``."""
    wanted = {
        "store_id": ("store_id",),
        "day": ("dayOfWeek", "day"),
        "start": ("start_time_local",),
        "end": ("end_time_local",),
    }
    return _parse(source, name, wanted, _hours_values, advance)


def _timezone_values(chunk: pd.DataFrame, bad: BadRows, valid: np.ndarray, lines: np.ndarray) -> dict:
    zones = np.array([z.strip() for z in chunk["timezone_str"].tolist()], dtype=object)
    too_long = np.array([len(z) > MAX_TIMEZONE_LENGTH for z in zones], dtype=bool)
    bad.add(valid & too_long, f"timezone_str longer than {MAX_TIMEZONE_LENGTH} characters", zones, lines)
    valid &= ~too_long
    return {"timezone_str": zones}


def parse_timezones(source, name: str = TIMEZONES, *, advance=_ignore) -> ParsedFile:
    """Columns ``store_id``, ``timezone_str``; a store's first row wins, as the specification says."""
    wanted = {"store_id": ("store_id",), "timezone_str": ("timezone_str",)}
    parsed = _parse(source, name, wanted, _timezone_values, advance)
    if parsed.ok and len(parsed):
        _, first = np.unique(parsed.store_code, return_index=True)
        first.sort()
        parsed.store_code = parsed.store_code[first]
        parsed.columns = {key: values[first] for key, values in parsed.columns.items()}
    return parsed


PARSERS = {STORE_STATUS: parse_store_status, MENU_HOURS: parse_menu_hours, TIMEZONES: parse_timezones}


# --- Values ----------------------------------------------------------------------------------------


def _day_number(text: str) -> int:
    text = text.strip()
    return int(text) if len(text) == 1 and text in "0123456" else -1


def _iso_micros(texts) -> tuple[np.ndarray, np.ndarray]:
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), format="ISO8601", utc=True, errors="coerce")
    values = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[us]")
    return values.view(np.int64).copy(), np.isnat(values)


def _normalise_timestamp(text: str) -> str:
    text = text.strip()
    return text[:-4].rstrip() if text[-4:].upper() == " UTC" else text


def parse_utc_timestamps(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD HH:MM:SS[.f…][ UTC]`` (ISO ``T`` and ``+00:00`` too) → (µs since the epoch, bad mask)."""
    # The common form in one cheap pass; what fails is normalised with care and parsed again.
    micros, bad = _parse_texts([t[:-4] if t.endswith(" UTC") else t for t in raw])
    retry = np.flatnonzero(bad)
    if retry.size:
        micros[retry], bad[retry] = _parse_texts([_normalise_timestamp(str(raw[i])) for i in retry])
    micros[bad] = 0
    return micros, bad


def _parse_texts(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    micros, bad = _iso_micros(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return micros, bad | (lengths < 19)  # a date alone, or a time without seconds


def parse_local_times(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``HH:MM:SS[.ffffff]`` on the local wall clock → (µs since midnight, bad mask)."""
    codes, uniques = pd.factorize(raw, sort=False)
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, dtype=bool)
    parts = pd.Series(uniques, dtype=object).astype(str).str.strip().str.extract(TIME_PATTERN)
    hours = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
    minutes = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
    seconds = pd.to_numeric(parts[2], errors="coerce").to_numpy(dtype=float)
    fraction = pd.to_numeric(parts[3].fillna("").astype(str).str.ljust(6, "0"), errors="coerce")
    micros = fraction.fillna(0).to_numpy(dtype=float)
    bad = np.isnan(hours) | (hours > 23) | (minutes > 59) | (seconds > 59)
    whole = (np.nan_to_num(hours) * 3600 + np.nan_to_num(minutes) * 60 + np.nan_to_num(seconds)).astype(np.int64)
    total = np.where(bad, 0, whole * US_PER_SECOND + micros.astype(np.int64))
    return total[codes], bad[codes]
