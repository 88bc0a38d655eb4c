"""An independent, plain implementation of shared/specs/store-report.md: one store at a time, with
``datetime`` and ``zoneinfo``, no NumPy, straight from the CSV files. Only the tests use it."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "America/Chicago"
WINDOWS = (
    ("last_hour", timedelta(hours=1), 60),
    ("last_day", timedelta(days=1), 3600),
    ("last_week", timedelta(days=7), 3600),
)


def parse_timestamp(text: str) -> datetime:
    text = text.strip()
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")]
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_time(text: str) -> time:
    return time.fromisoformat(text.strip())


def zone_for(name):
    if name:
        try:
            return ZoneInfo(name)
        except Exception:
            pass
    return ZoneInfo(DEFAULT_ZONE)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def open_intervals(rows, zone, window_start: datetime, now: datetime):
    """The store's business hours as merged UTC intervals that can touch [window_start, now)."""
    if not rows:
        return [(window_start, now)]
    intervals = []
    local_first = window_start.astimezone(zone).date() - timedelta(days=2)
    local_last = now.astimezone(zone).date() + timedelta(days=1)
    day = local_first
    while day <= local_last:
        for weekday, start, end in rows:
            if weekday != day.weekday():
                continue
            begin = datetime.combine(day, start).replace(tzinfo=zone)
            finish_day = day + timedelta(days=1) if end <= start else day
            finish = datetime.combine(finish_day, end).replace(tzinfo=zone)
            begin_utc, finish_utc = begin.astimezone(UTC), finish.astimezone(UTC)
            if finish_utc > begin_utc:
                intervals.append((begin_utc, finish_utc))
        day += timedelta(days=1)
    intervals.sort()
    merged = []
    for begin, finish in intervals:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def overlap_seconds(a0, a1, b0, b1) -> float:
    start, end = max(a0, b0), min(a1, b1)
    return (end - start).total_seconds() if end > start else 0.0


def store_values(polls, hours_rows, zone, now):
    """The six report values of one store (minutes for the hour, hours for day and week)."""
    times = sorted(polls)
    week_start = now - timedelta(days=7)
    opens = open_intervals(hours_rows, zone, week_start, now)
    cells = []
    for i, moment in enumerate(times):
        lo = week_start if i == 0 else times[i - 1] + (moment - times[i - 1]) / 2
        hi = now if i == len(times) - 1 else moment + (times[i + 1] - moment) / 2
        cells.append((lo, hi, polls[moment]))
    result = {}
    for name, length, unit in WINDOWS:
        start = now - length
        up = down = 0.0
        for lo, hi, active in cells:
            lo, hi = max(lo, start), min(hi, now)
            if hi <= lo:
                continue
            for open_start, open_end in opens:
                seconds = overlap_seconds(lo, hi, open_start, open_end)
                if active:
                    up += seconds
                else:
                    down += seconds
        result[f"uptime_{name}"] = up / unit
        result[f"downtime_{name}"] = down / unit
    return result


def reference_report(directory) -> dict[str, dict[str, float]]:
    """store_id → {column: value} for the three CSVs in ``directory``."""
    polls: dict[str, dict[datetime, bool]] = {}
    for row in read_rows(f"{directory}/store_status.csv"):
        store = row["store_id"].strip()
        moment = parse_timestamp(row["timestamp_utc"])
        active = row["status"].strip().lower() == "active"
        polls.setdefault(store, {})
        polls[store][moment] = polls[store].get(moment, True) and active
    zones = {}
    for row in read_rows(f"{directory}/timezones.csv"):
        zones.setdefault(row["store_id"].strip(), row["timezone_str"].strip())
    hours: dict[str, list] = {}
    for row in read_rows(f"{directory}/menu_hours.csv"):
        day_column = "dayOfWeek" if "dayOfWeek" in row else "day"
        hours.setdefault(row["store_id"].strip(), []).append(
            (int(row[day_column]), parse_time(row["start_time_local"]), parse_time(row["end_time_local"]))
        )
    now = max(moment for store_polls in polls.values() for moment in store_polls)
    return {
        store: store_values(polls[store], hours.get(store, []), zone_for(zones.get(store)), now)
        for store in sorted(polls)
    }
