"""Store uptime and downtime within business hours (shared/specs/store-report.md), vectorised and exact.

All times are integers. Inside the computation an instant is counted in half-microseconds from the
start of the week window, so that the midpoint of two polls (µs) is an exact integer too. Each
reported store gets a band of its own on one number line (``rank * BAND + x``), which lets one
sorted array of open intervals and one ``searchsorted`` serve every store at once:

* ``O`` (business hours) becomes, per store, a union of disjoint open intervals clipped to the
  week; ``open_before(x)`` is the open time from the band's start to ``x`` (cumulative sums).
* Each poll owns the cell between the midpoints with its neighbours; the open time of a cell
  inside a window is ``open_before(hi) - open_before(lo)``; uptime sums the active cells'.

Memory and time are linear in the number of polls and hours rows (plus one sort of each).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reports.computations.zones import DEFAULT_TIMEZONE, is_valid_zone, wall_to_utc

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

# (column suffix, window length, unit of the column)
WINDOWS = (("last_hour", HOUR, MINUTE), ("last_day", DAY, HOUR), ("last_week", WEEK, HOUR))
COLUMNS = (
    "store_id",
    "uptime_last_hour",
    "uptime_last_day",
    "uptime_last_week",
    "downtime_last_hour",
    "downtime_last_day",
    "downtime_last_week",
)
ALGORITHM = (
    "store-report v1: nearest-poll (midpoint) rule, exact interval arithmetic in integer half-microseconds, "
    "business hours as UTC intervals (PEP 495 fold=0), windows [now-60min, now), [now-24h, now), [now-168h, now)"
)

SPAN = 2 * WEEK  # the week window in half-microseconds
BAND = SPAN + 1  # one band per store on the shared number line


@dataclass
class StoreData:
    """Everything the computation reads, as arrays; store codes index ``store_ids`` and ``timezones``."""

    store_ids: np.ndarray  # object array of str
    timezones: list  # str or None per store code
    poll_store: np.ndarray  # int64 store codes
    poll_time_us: np.ndarray  # int64 µs since 1970, UTC
    poll_active: np.ndarray  # bool
    hours_store: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hours_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # 0 = Monday
    hours_start_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # µs after local midnight
    hours_end_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass
class StoreUptime:
    """One row per reported store, sorted by store id; values in minutes (hour) and hours (day, week)."""

    now_us: int
    store_ids: np.ndarray
    values: dict[str, np.ndarray]
    counts: dict[str, int]

    def __len__(self) -> int:
        return len(self.store_ids)

    def rows(self):
        """(store_id, six floats in the order of ``COLUMNS``) per store."""
        columns = [self.values[name] for name in COLUMNS[1:]]
        for i, store_id in enumerate(self.store_ids):
            yield store_id, [float(column[i]) for column in columns]

    def hundredths(self) -> dict[str, np.ndarray]:
        """The values rounded to integer hundredths so that uptime + downtime keeps its exact total.

        Rounding each value alone can make 30.005 + 29.995 print as 60.01. Downtime is written as
        rounded total minus rounded uptime whenever that is still within half a hundredth of the
        exact downtime, which holds whenever the total is a whole number of hundredths (always 60,
        24 and 168 for a store open 24x7); every value stays within 0.005 of the exact one.
        """
        out = {}
        for suffix, _, _ in WINDOWS:
            up = self.values[f"uptime_{suffix}"] * 100
            down = self.values[f"downtime_{suffix}"] * 100
            up_c = np.round(up)
            complement = np.round(up + down) - up_c
            down_c = np.where(np.abs(complement - down) <= 0.5 + 1e-9, complement, np.round(down))
            out[f"uptime_{suffix}"] = up_c.astype(np.int64)
            out[f"downtime_{suffix}"] = np.maximum(down_c, 0).astype(np.int64)
        return out

    def formatted_rows(self):
        """(store_id, six ``%.2f`` strings) per store, in the order of ``COLUMNS``."""
        cents = self.hundredths()
        columns = [cents[name].tolist() for name in COLUMNS[1:]]
        for i, store_id in enumerate(self.store_ids.tolist()):
            yield (store_id, *(f"{column[i] / 100:.2f}" for column in columns))


class NoPolls(ValueError):
    """There is no poll at all: ``now`` is undefined."""


Progress = Callable[[float, str], None]


def compute_store_uptime(data: StoreData, *, progress: Progress | None = None) -> StoreUptime:
    """Uptime and downtime of every store with polls. Raises NoPolls when there are none."""
    progress = progress or (lambda percent, message: None)
    store, time_us, active, duplicates = merge_polls(data.poll_store, data.poll_time_us, data.poll_active)
    if store.size == 0:
        raise NoPolls("There are no store polls: import store_status.csv first.")
    now = int(time_us.max())
    week_start = now - WEEK
    progress(10, "ranking stores")

    codes = np.unique(store)
    ids = np.asarray(data.store_ids, dtype=object)[codes]
    by_id = np.argsort(ids, kind="stable")  # str comparison: code point order
    rank_of_code = np.full(len(data.store_ids), -1, dtype=np.int64)
    rank_of_code[codes[by_id]] = np.arange(codes.size)
    rank = rank_of_code[store]
    n_stores = int(codes.size)

    progress(20, "building business hours")
    zones = [None] * n_stores
    default_zone = 0
    for code, r in zip(codes[by_id].tolist(), range(n_stores), strict=True):
        name = data.timezones[code]
        if is_valid_zone(name):
            zones[r] = name
        else:
            zones[r] = DEFAULT_TIMEZONE
            default_zone += 1
    starts, ends, hour_counts = _open_intervals(data, rank_of_code, zones, n_stores, week_start, now)
    open_before = _cumulative_open(starts, ends)

    progress(50, "measuring uptime")
    lo, hi = _cells(store, time_us - week_start)
    values = {}
    for suffix, length, unit in WINDOWS:
        window_start = SPAN - 2 * length
        selected = hi > window_start
        cell_lo = np.maximum(lo[selected], window_start)
        cell_hi = np.maximum(np.minimum(hi[selected], SPAN), cell_lo)
        base = rank[selected] * BAND
        open_time = open_before(base + cell_hi) - open_before(base + cell_lo)
        up = active[selected]
        ranks = rank[selected]
        scale = 2.0 * unit
        values[f"uptime_{suffix}"] = np.bincount(ranks[up], weights=open_time[up], minlength=n_stores) / scale
        values[f"downtime_{suffix}"] = np.bincount(ranks[~up], weights=open_time[~up], minlength=n_stores) / scale
    progress(90, "done")
    counts = {
        "input_poll_rows": int(data.poll_time_us.size),
        "polls": int(store.size),
        "merged_duplicate_rows": int(duplicates),
        "stores": n_stores,
        "stores_with_default_timezone": default_zone,
        **hour_counts,
    }
    return StoreUptime(now_us=now, store_ids=ids[by_id], values=values, counts=counts)


def merge_polls(store, time_us, active):
    """Sort by (store, time) and merge rows of the same instant: inactive if any row is inactive."""
    order = np.lexsort((time_us, store))
    store, time_us = store[order], time_us[order]
    active = np.asarray(active, dtype=bool)[order]
    if store.size == 0:
        return store, time_us, active, 0
    first = np.ones(store.size, dtype=bool)
    first[1:] = (store[1:] != store[:-1]) | (time_us[1:] != time_us[:-1])
    group_starts = np.flatnonzero(first)
    if group_starts.size == store.size:
        return store, time_us, active, 0
    merged = np.minimum.reduceat(active.astype(np.int8), group_starts).astype(bool)
    return store[group_starts], time_us[group_starts], merged, int(store.size - group_starts.size)


def _cells(store, relative_us):
    """Each poll's cell ``[lo, hi)`` in half-µs from the week start, clipped to ``[0, SPAN]``."""
    n = store.size
    doubled_midpoints = relative_us[:-1] + relative_us[1:]
    same_store = store[1:] == store[:-1]
    lo = np.zeros(n, dtype=np.int64)  # the first poll of a store extends back indefinitely
    hi = np.full(n, SPAN, dtype=np.int64)  # the last one forward indefinitely
    lo[1:] = np.where(same_store, np.clip(doubled_midpoints, 0, SPAN), 0)
    hi[:-1] = np.where(same_store, np.clip(doubled_midpoints, 0, SPAN), SPAN)
    return lo, hi


def _open_intervals(data: StoreData, rank_of_code, zones, n_stores, week_start, now):
    """Merged open intervals of every reported store as band keys: (starts, ends), both sorted."""
    rank = rank_of_code[data.hours_store] if data.hours_store.size else np.zeros(0, np.int64)
    keep = rank >= 0
    rank = rank[keep]
    day = data.hours_day[keep]
    start_us = data.hours_start_us[keep]
    end_us = data.hours_end_us[keep]
    has_hours = np.zeros(n_stores, dtype=bool)
    has_hours[rank] = True

    # Each row applies to every local date with its weekday. Dates that can reach into the week:
    # from three days before its start (zones are within ±14 h, intervals last up to 48 h) to a day after.
    first_day = week_start // DAY - 3
    last_day = now // DAY + 1
    first_match = first_day + (day - (first_day + 3)) % 7  # 1970-01-01 was a Thursday (3)
    repeats = (last_day - first_day) // 7 + 1
    dates = first_match[:, None] + 7 * np.arange(repeats)[None, :]
    valid = dates <= last_day
    row = np.broadcast_to(np.arange(rank.size)[:, None], dates.shape)[valid]
    dates = dates[valid]
    wall_start = dates * DAY + start_us[row]
    overnight = end_us[row] <= start_us[row]
    wall_end = dates * DAY + end_us[row] + np.where(overnight, DAY, 0)

    zone_names = sorted(set(zones))
    zone_index = {name: i for i, name in enumerate(zone_names)}
    zone_of_rank = np.array([zone_index[z] for z in zones], dtype=np.int64)
    zone_codes = zone_of_rank[rank[row]]
    range_start, range_end = (first_day - 1) * DAY, (last_day + 3) * DAY
    utc_start = wall_to_utc(wall_start, zone_codes, zone_names, range_start, range_end)
    utc_end = wall_to_utc(wall_end, zone_codes, zone_names, range_start, range_end)

    lo = np.clip(2 * (utc_start - week_start), 0, SPAN)
    hi = np.clip(2 * (utc_end - week_start), 0, SPAN)
    # A wall interval inside a spring-forward gap can map to an empty (or reversed) UTC interval.
    nonempty = hi > lo
    always_open = np.flatnonzero(~has_hours)
    base = np.concatenate([rank[row][nonempty], always_open]) * BAND
    starts = base + np.concatenate([lo[nonempty], np.zeros(always_open.size, np.int64)])
    ends = base + np.concatenate([hi[nonempty], np.full(always_open.size, SPAN, np.int64)])
    starts, ends = _union(starts, ends)
    counts = {
        "hours_rows": int(rank.size),
        "stores_without_hours": int(always_open.size),
        "open_intervals": int(starts.size),
    }
    return starts, ends, counts


def _union(starts, ends):
    """Merge overlapping or touching intervals (keys of different stores never overlap)."""
    if starts.size == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    first = np.ones(starts.size, dtype=bool)
    first[1:] = starts[1:] > reach[:-1]
    group_starts = np.flatnonzero(first)
    return starts[group_starts], np.maximum.reduceat(ends, group_starts)


def _cumulative_open(starts, ends):
    """``open_before(x)``: open time on the number line before ``x`` (differences within a band are exact)."""
    lengths = ends - starts
    before = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if lengths.size else np.zeros(0, np.int64)

    def open_before(x):
        if starts.size == 0:
            return np.zeros_like(x)
        k = np.searchsorted(starts, x, side="right") - 1
        kk = np.maximum(k, 0)
        value = before[kk] + np.minimum(x - starts[kk], lengths[kk])
        return np.where(k >= 0, value, 0)

    return open_before
