"""A small, deterministic store data set for demos: hourly polls for a week and a day up to ``end``.

It exercises the interesting cases of the specification: split and overnight hours, 24-hour rows,
closed days, stores without hours, a missing and an unknown time zone, a store with one poll, and
stores in zones with daylight saving time.
"""

from __future__ import annotations

import csv
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Kolkata", "Mars/Olympus"]
HOURS_PATTERNS = [
    [(d, "09:00:00", "17:00:00") for d in range(5)],  # weekdays only
    [(d, "11:00:00", "14:30:00") for d in range(7)] + [(d, "17:00:00", "22:00:00") for d in range(7)],  # split
    [(d, "18:00:00", "02:00:00") for d in range(7)],  # overnight
    [(d, "00:00:00", "00:00:00") for d in range(7)],  # 24 h rows
    [(d, "07:00:00", "23:59:59") for d in range(6)],  # closed on Sunday
    None,  # no hours rows: open 24x7
]


def write_demo_csvs(directory: Path, *, stores: int = 20, end: datetime | None = None, seed: int = 7) -> Path:
    """Write store_status.csv, menu_hours.csv and timezones.csv for ``stores`` stores into ``directory``."""
    rng = random.Random(seed)
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=8)
    directory.mkdir(parents=True, exist_ok=True)
    status_rows, hours_rows, zone_rows = [], [], []
    for index in range(stores):
        store_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        zone = ZONES[index % len(ZONES)]
        if index % 7 != 3:  # every seventh store has no time zone row
            zone_rows.append((store_id, zone))
        pattern = HOURS_PATTERNS[index % len(HOURS_PATTERNS)]
        for day, opens, closes in pattern or []:
            hours_rows.append((store_id, day, opens, closes))
        reliability = rng.choice([0.99, 0.95, 0.8, 0.5])
        moment = start + timedelta(seconds=rng.uniform(0, 3600))
        polls = 1 if index == stores - 1 else None  # the last store was polled once
        count = 0
        while moment < end and (polls is None or count < polls):
            status = "active" if rng.random() < reliability else "inactive"
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
            status_rows.append((store_id, status, f"{stamp} UTC"))
            moment += timedelta(seconds=rng.gauss(3600, 300))
            count += 1
    rng.shuffle(status_rows)
    _write(directory / "store_status.csv", ("store_id", "status", "timestamp_utc"), status_rows)
    _write(directory / "menu_hours.csv", ("store_id", "dayOfWeek", "start_time_local", "end_time_local"), hours_rows)
    _write(directory / "timezones.csv", ("store_id", "timezone_str"), zone_rows)
    return directory


def _write(path: Path, header, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
