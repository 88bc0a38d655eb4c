from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from reports.computations.zones import DEFAULT_TIMEZONE, resolve_zone, wall_clock, wall_to_utc

US = 1_000_000


def micros(moment: datetime) -> int:
    return int((moment.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("wall", "expected_utc"),
    [
        (datetime(2023, 3, 12, 2, 30), datetime(2023, 3, 12, 8, 30)),  # nonexistent: offset before the gap
        (datetime(2023, 11, 5, 1, 30), datetime(2023, 11, 5, 6, 30)),  # ambiguous: the first occurrence
        (datetime(2023, 3, 12, 1, 59, 59, 999999), datetime(2023, 3, 12, 7, 59, 59, 999999)),
        (datetime(2023, 3, 12, 3, 0), datetime(2023, 3, 12, 8, 0)),
        (datetime(2023, 11, 5, 2, 0), datetime(2023, 11, 5, 8, 0)),
    ],
)
def test_the_specification_examples_for_chicago(wall, expected_utc):
    clock = wall_clock("America/Chicago", micros(datetime(2023, 3, 1)), micros(datetime(2023, 11, 30)))
    assert clock.to_utc(np.array([micros(wall)]))[0] == micros(expected_utc)


@pytest.mark.parametrize(
    "zone", ["America/Chicago", "Europe/London", "Australia/Adelaide", "Asia/Kathmandu", "America/St_Johns"]
)
def test_every_quarter_hour_matches_datetime_replace_with_fold_0(zone):
    start, end = datetime(2023, 3, 1), datetime(2023, 11, 10)
    walls = []
    moment = start
    while moment < end:
        walls.append(moment)
        moment += timedelta(minutes=15, seconds=7)
    expected = [micros(w.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)) for w in walls]
    got = wall_to_utc(
        np.array([micros(w) for w in walls], dtype=np.int64),
        np.zeros(len(walls), dtype=np.int64),
        [zone],
        micros(start - timedelta(days=2)),
        micros(end + timedelta(days=2)),
    )
    assert got.tolist() == expected


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus", "../../etc/passwd", "america/chicago "])
def test_invalid_zone_names_fall_back_to_chicago(name):
    assert resolve_zone(name) == DEFAULT_TIMEZONE


def test_valid_zone_names_are_kept():
    assert resolve_zone("Asia/Kolkata") == "Asia/Kolkata"
