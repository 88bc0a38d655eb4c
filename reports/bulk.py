"""Bulk moves of store data between arrays and the database: COPY on PostgreSQL, executemany on SQLite.

The writers here are called only by ``reports.services`` (inside its transaction); the reader by
``reports.selectors``. Polls travel in PostgreSQL's binary COPY format, built and parsed with NumPy
record arrays: no per-row Python on the way in or out.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from django.db import connection

from reports.models import Store, StoreHours, StorePoll

CHUNK_ROWS = 250_000
ID_CHUNK = 5_000
PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z, the origin of binary timestamps
PG_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
PG_COPY_HEADER = PG_COPY_SIGNATURE + struct.pack(">ii", 0, 0)
PG_COPY_TRAILER = struct.pack(">h", -1)

# One poll row in binary COPY: field count, then (length, value) for store id, timestamp, active.
POLL_RECORD = np.dtype(
    [
        ("fields", ">i2"),
        ("l1", ">i4"),
        ("store", ">i8"),
        ("l2", ">i4"),
        ("time", ">i8"),
        ("l3", ">i4"),
        ("active", "u1"),
    ]
)

Advance = Callable[[int], None]


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _check_vendor() -> None:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"Store data import supports PostgreSQL and SQLite, not {connection.vendor}.")


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- Stores ----------------------------------------------------------------------------------------


def ensure_stores(store_ids: Iterable[str]) -> dict[str, int]:
    """Create the stores that do not exist yet; returns store id → primary key for all of them."""
    wanted = list(dict.fromkeys(store_ids))
    Store.objects.bulk_create([Store(store_id=s) for s in wanted], batch_size=2_000, ignore_conflicts=True)
    return store_keys(wanted)


def store_keys(store_ids: list[str]) -> dict[str, int]:
    keys: dict[str, int] = {}
    for chunk in _chunks(store_ids, ID_CHUNK):
        keys.update(Store.objects.filter(store_id__in=chunk).values_list("store_id", "id"))
    return keys


def set_timezones(store_ids: list[str], zones: list[str]) -> int:
    """Insert or update ``Store.timezone_str`` (one row per store)."""
    stores = [Store(store_id=s, timezone_str=z) for s, z in zip(store_ids, zones, strict=True)]
    Store.objects.bulk_create(
        stores, batch_size=2_000, update_conflicts=True, unique_fields=["store_id"], update_fields=["timezone_str"]
    )
    return len(stores)


# --- Business hours --------------------------------------------------------------------------------


def _time_text(micros: np.ndarray) -> np.ndarray:
    seconds, fraction = np.divmod(micros, 1_000_000)
    text = [
        f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}.{f:06d}"
        for s, f in zip(seconds.tolist(), fraction.tolist(), strict=True)
    ]
    return np.array(text, dtype=object)


def replace_hours(store_keys_: np.ndarray, day: np.ndarray, start_us: np.ndarray, end_us: np.ndarray, advance: Advance):
    """Replace the hours of every store in ``store_keys_`` by these rows (duplicates dropped); returns rows written."""
    frame = pd.DataFrame({"store": store_keys_, "day": day, "start": start_us, "end": end_us}).drop_duplicates()
    affected = sorted(set(frame["store"].tolist()))
    for chunk in _chunks(affected, ID_CHUNK):
        StoreHours.objects.filter(store_id__in=chunk).delete()
    start_text, end_text = _time_text(frame["start"].to_numpy()), _time_text(frame["end"].to_numpy())
    if is_postgresql():
        table = StoreHours._meta.db_table
        body = pd.DataFrame(
            {"store": frame["store"].to_numpy(), "day": frame["day"].to_numpy(), "start": start_text, "end": end_text}
        )
        buffer = io.StringIO()
        body.to_csv(buffer, header=False, index=False)
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {table} (store_id, day_of_week, start_time_local, end_time_local) FROM STDIN WITH (FORMAT csv)",
                buffer,
            )
        advance(len(frame))
    else:
        rows = [
            StoreHours(store_id=s, day_of_week=d, start_time_local=a, end_time_local=b)
            for s, d, a, b in zip(frame["store"].tolist(), frame["day"].tolist(), start_text, end_text, strict=True)
        ]
        for chunk in _chunks(rows, 10_000):
            StoreHours.objects.bulk_create(chunk, batch_size=2_000)
            advance(len(chunk))
    return len(frame)


# --- Polls -----------------------------------------------------------------------------------------


def add_polls(store_keys_: np.ndarray, time_us: np.ndarray, active: np.ndarray, advance: Advance) -> int:
    """Add polls (distinct per store and instant); an instant already stored stays, and becomes inactive if
    either side is inactive. Returns how many polls are new."""
    _check_vendor()
    table = StorePoll._meta.db_table
    with connection.cursor() as cursor:
        if is_postgresql():
            # Imports take turns (the mode conflicts with itself); readers are not blocked.
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"SELECT count(*) FROM {table}")
        before = cursor.fetchone()[0]
        if is_postgresql():
            _merge_polls_postgresql(cursor, table, store_keys_, time_us, active, empty=before == 0, advance=advance)
        else:
            _merge_polls_sqlite(cursor, table, store_keys_, time_us, active, advance=advance)
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0] - before


def _binary_polls(store_keys_, time_us, active) -> bytes:
    records = np.empty(store_keys_.size, dtype=POLL_RECORD)
    records["fields"] = 3
    records["l1"] = 8
    records["store"] = store_keys_
    records["l2"] = 8
    records["time"] = time_us - PG_EPOCH_US
    records["l3"] = 1
    records["active"] = active
    return PG_COPY_HEADER + records.tobytes() + PG_COPY_TRAILER


def _merge_polls_postgresql(cursor, table, store_keys_, time_us, active, *, empty: bool, advance: Advance) -> None:
    raw = cursor.cursor
    columns = "(store_id, timestamp_utc, active)"
    if empty:
        target = table  # nothing to merge with: load straight into the table
    else:
        target = "reports_poll_import"
        raw.execute(
            f"CREATE TEMPORARY TABLE {target} (store_id bigint, timestamp_utc timestamptz, active boolean) "
            "ON COMMIT DROP"
        )
    for start in range(0, store_keys_.size, CHUNK_ROWS):
        end = start + CHUNK_ROWS
        payload = _binary_polls(store_keys_[start:end], time_us[start:end], active[start:end])
        raw.copy_expert(f"COPY {target} {columns} FROM STDIN WITH (FORMAT binary)", io.BytesIO(payload))
        advance(min(end, store_keys_.size) - start)
    if not empty:
        raw.execute(
            f"INSERT INTO {table} {columns} SELECT store_id, timestamp_utc, active FROM {target} "
            f"ON CONFLICT (store_id, timestamp_utc) DO UPDATE SET active = FALSE "
            f"WHERE {table}.active AND NOT EXCLUDED.active"
        )
        raw.execute(f"DROP TABLE {target}")


def _sqlite_timestamps(time_us: np.ndarray) -> list[str]:
    """The text Django's SQLite backend stores for an aware UTC datetime (``str`` of the naive value)."""
    values = time_us.astype("datetime64[us]")
    text = np.char.replace(np.datetime_as_string(values, unit="us"), "T", " ")
    whole = time_us % 1_000_000 == 0
    if whole.any():
        text[whole] = np.char.replace(np.datetime_as_string(values[whole], unit="s"), "T", " ")
    return text.tolist()


def _merge_polls_sqlite(cursor, table, store_keys_, time_us, active, *, advance: Advance) -> None:
    sql = (
        f"INSERT INTO {table} (store_id, timestamp_utc, active) VALUES (%s, %s, %s) "
        f"ON CONFLICT (store_id, timestamp_utc) DO UPDATE SET active = 0 "
        f"WHERE {table}.active = 1 AND excluded.active = 0"
    )
    for start in range(0, store_keys_.size, CHUNK_ROWS // 5):
        end = start + CHUNK_ROWS // 5
        rows = zip(
            store_keys_[start:end].tolist(),
            _sqlite_timestamps(time_us[start:end]),
            active[start:end].astype(int).tolist(),
            strict=True,
        )
        cursor.executemany(sql, list(rows))
        advance(min(end, store_keys_.size) - start)


def read_polls() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every poll as arrays: (store primary keys, µs since 1970 UTC, active)."""
    _check_vendor()
    table = StorePoll._meta.db_table
    with connection.cursor() as cursor:
        if is_postgresql():
            buffer = io.BytesIO()
            cursor.cursor.copy_expert(
                f"COPY (SELECT store_id, timestamp_utc, active FROM {table}) TO STDOUT WITH (FORMAT binary)", buffer
            )
            return _parse_binary_polls(buffer.getbuffer())
        cursor.execute(f"SELECT store_id, timestamp_utc, active FROM {table}")
        rows = cursor.fetchall()
    if not rows:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), np.zeros(0, dtype=bool)
    stores, times, actives = zip(*rows, strict=True)
    parsed = pd.to_datetime(pd.Series(times, dtype=str), format="ISO8601").to_numpy().astype("datetime64[us]")
    return np.array(stores, dtype=np.int64), parsed.view(np.int64), np.array(actives, dtype=bool)


def _parse_binary_polls(data: memoryview):
    if bytes(data[:11]) != PG_COPY_SIGNATURE:
        raise ValueError("unexpected COPY output: no binary signature")
    extension = struct.unpack(">i", data[15:19])[0]
    body = data[19 + extension : len(data) - 2]
    records = np.frombuffer(body, dtype=POLL_RECORD)
    if records.size and not (
        (records["fields"] == 3).all() and (records["l1"] == 8).all() and (records["l2"] == 8).all()
    ):
        raise ValueError("unexpected COPY output: NULLs or other column types")
    return (
        records["store"].astype(np.int64),
        records["time"].astype(np.int64) + PG_EPOCH_US,
        records["active"].astype(bool),
    )
