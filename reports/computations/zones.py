"""Local wall time → UTC for many instants at once, with the PEP 495 ``fold=0`` rule of the specification.

``datetime.replace(tzinfo=ZoneInfo(z))`` reads an ambiguous wall time with the earlier offset and a
nonexistent one (a spring-forward gap) with the offset in force before the transition. In both
cases a wall time ``w`` takes the offset before a transition at UTC instant ``T`` (offsets ``o1``
before, ``o2`` after) while ``w < T + max(o1, o2)``: the threshold zoneinfo itself uses. So per zone
we find the transitions in the range of interest once, and convert arrays with ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

DEFAULT_TIMEZONE = "America/Chicago"
US = 1_000_000
SAMPLE_STEP_SECONDS = 3600


@lru_cache(maxsize=4096)
def is_valid_zone(name: str | None) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def resolve_zone(name: str | None) -> str:
    """The zone to use for a ``timezone_str``: itself if it is a valid IANA name, else the default."""
    return name if is_valid_zone(name) else DEFAULT_TIMEZONE


@dataclass(frozen=True)
class WallClock:
    """A zone's ``fold=0`` offsets over a range: ``offsets[i]`` applies to wall times in
    ``[thresholds[i-1], thresholds[i])`` (µs on the local wall clock, as if it were UTC)."""

    thresholds: np.ndarray
    offsets: np.ndarray

    def to_utc(self, wall_us: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.thresholds, wall_us, side="right")
        return wall_us - self.offsets[index]


def _offset_seconds(zone: ZoneInfo, utc_seconds: int) -> int:
    offset = datetime.fromtimestamp(utc_seconds, tz=UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds())


def wall_clock(name: str, start_us: int, end_us: int) -> WallClock:
    """Transitions of zone ``name`` between the UTC instants ``start_us`` and ``end_us`` (µs since 1970)."""
    zone = ZoneInfo(name)
    first = start_us // US // SAMPLE_STEP_SECONDS * SAMPLE_STEP_SECONDS
    last = -(-end_us // US // SAMPLE_STEP_SECONDS) * SAMPLE_STEP_SECONDS + SAMPLE_STEP_SECONDS
    samples = range(first, last + 1, SAMPLE_STEP_SECONDS)
    offsets = [_offset_seconds(zone, s) for s in samples]
    thresholds: list[int] = []
    chosen = [offsets[0]]
    for i in range(1, len(offsets)):
        before, after = offsets[i - 1], offsets[i]
        if before == after:
            continue
        # The transition instant T: the first second with the new offset.
        lo, hi = samples[i - 1], samples[i]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_seconds(zone, mid) == before:
                lo = mid
            else:
                hi = mid
        thresholds.append((hi + max(before, after)) * US)
        chosen.append(after)
    return WallClock(thresholds=np.array(thresholds, dtype=np.int64), offsets=np.array(chosen, dtype=np.int64) * US)


def wall_to_utc(wall_us: np.ndarray, zone_codes: np.ndarray, zone_names: list[str], start_us: int, end_us: int):
    """Convert wall times (µs, local clock read as if UTC) to UTC µs; ``zone_codes`` index ``zone_names``."""
    out = np.empty_like(wall_us)
    if wall_us.size == 0:
        return out
    order = np.argsort(zone_codes, kind="stable")
    sorted_codes = zone_codes[order]
    bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
    for chunk in np.split(order, bounds):
        clock = wall_clock(zone_names[int(zone_codes[chunk[0]])], start_us, end_us)
        out[chunk] = clock.to_utc(wall_us[chunk])
    return out
