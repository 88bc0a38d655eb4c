"""The cases of shared/specs/store-report.md, each through the real import and the computation."""

import csv

import pytest

from reports import services
from reports.models import StorePoll

HOUR_COLUMNS = ("uptime_last_hour", "downtime_last_hour")
# A store polled once at a later instant sets the report's "now" (one value for every store).
CLOCK = "zz-clock"


def clock_at(timestamp: str):
    return [(CLOCK, "active", timestamp)]


def test_worked_example_of_the_specification(import_stores, report_values):
    # Open 09:00-12:00 (Monday only, UTC); polls 10:14 active and 11:15 inactive: midpoint 10:44:30.
    import_stores(
        status=[
            ("A", "active", "2023-01-23 10:14:00 UTC"),
            ("A", "inactive", "2023-01-23 11:15:00 UTC"),
            *clock_at("2023-01-23 23:00:00 UTC"),
        ],
        hours=[("A", 0, "09:00:00", "12:00:00")],
        zones=[("A", "UTC")],
    )
    a = report_values()["A"]
    assert a["uptime_last_day"] * 60 == pytest.approx(104.5, abs=1e-9)
    assert a["downtime_last_day"] * 60 == pytest.approx(75.5, abs=1e-9)
    assert a["uptime_last_week"] * 60 == pytest.approx(104.5, abs=1e-9)  # last Monday's hours end before the week
    assert a["downtime_last_week"] * 60 == pytest.approx(75.5, abs=1e-9)
    assert (a["uptime_last_hour"], a["downtime_last_hour"]) == (0, 0)  # closed from 22:00 to 23:00


def test_worked_example_in_the_hour_window_is_in_minutes(import_stores, report_values):
    # The same store with "now" at 12:00: the last hour, 11:00-12:00, was inactive throughout.
    import_stores(
        status=[
            ("A", "active", "2023-01-23 10:14:00 UTC"),
            ("A", "inactive", "2023-01-23 11:15:00 UTC"),
            *clock_at("2023-01-23 12:00:00 UTC"),
        ],
        hours=[("A", 0, "09:00:00", "12:00:00")],
        zones=[("A", "UTC")],
    )
    a = report_values()["A"]
    assert a["uptime_last_hour"] == pytest.approx(0.0)
    assert a["downtime_last_hour"] == pytest.approx(60.0)
    assert a["uptime_last_day"] * 60 == pytest.approx(104.5)


def test_overnight_hours_run_past_midnight(import_stores, report_values):
    # Monday 22:00 → Tuesday 02:00; Tuesday has no row of its own and is closed after 02:00.
    import_stores(
        status=[
            ("N", "active", "2023-01-23 23:00:00 UTC"),
            ("N", "inactive", "2023-01-24 01:00:00 UTC"),
            *clock_at("2023-01-24 12:00:00 UTC"),
        ],
        hours=[("N", 0, "22:00:00", "02:00:00")],
        zones=[("N", "UTC")],
    )
    n = report_values()["N"]
    assert n["uptime_last_day"] == pytest.approx(2.0)  # 22:00-00:00 (midpoint of the polls at midnight)
    assert n["downtime_last_day"] == pytest.approx(2.0)  # 00:00-02:00
    assert n["uptime_last_week"] == pytest.approx(2.0)
    assert n["downtime_last_week"] == pytest.approx(2.0)


def test_a_conflicting_duplicate_poll_counts_as_inactive(import_stores, report_values):
    import_stores(
        status=[
            ("D", "active", "2023-01-23 10:00:00 UTC"),
            ("D", "INACTIVE ", "2023-01-23 10:00:00.000000 UTC"),  # the same instant, written differently
            ("D", "active", "2023-01-23 10:00:00 UTC"),
            *clock_at("2023-01-23 12:00:00 UTC"),
        ]
    )
    assert StorePoll.objects.filter(store__store_id="D").count() == 1
    d = report_values()["D"]
    assert (d["uptime_last_week"], d["downtime_last_week"]) == (0, pytest.approx(168.0))
    # Importing an "active" row for that instant later does not make it active again.
    import_stores(status=[("D", "active", "2023-01-23 10:00:00 UTC")])
    assert StorePoll.objects.filter(store__store_id="D").get().active is False


def test_an_unknown_empty_or_missing_time_zone_means_america_chicago(import_stores, report_values):
    # Monday 09:00-10:00 local; Chicago is UTC-6 in January, so 15:00-16:00 UTC.
    stores = {"chicago": "America/Chicago", "mars": "Mars/Olympus", "empty": "", "bad-path": "../etc/passwd"}
    status = [(s, "active", "2023-01-23 15:30:00 UTC") for s in [*stores, "missing", "utc"]]
    hours = [(s, 0, "09:00:00", "10:00:00") for s in [*stores, "missing", "utc"]]
    import_stores(
        status=status + clock_at("2023-01-23 20:00:00 UTC"),
        hours=hours,
        zones=[*stores.items(), ("utc", "UTC")],
    )
    values = report_values()
    for store in [*stores, "missing"]:
        assert values[store] == values["chicago"], store
    assert values["chicago"]["uptime_last_day"] == pytest.approx(1.0)
    assert values["utc"]["uptime_last_day"] == pytest.approx(1.0)  # 09:00-10:00 UTC, still in the day
    # Only the hour of the report differs: 19:00-20:00 UTC is closed for all of them.
    assert values["chicago"]["uptime_last_hour"] == 0


def test_a_store_with_one_poll_has_that_status_everywhere(import_stores, report_values):
    # The poll is 10 days before "now": it still sets the status of the whole week.
    import_stores(
        status=[("one", "active", "2023-01-13 12:00:00 UTC"), *clock_at("2023-01-23 12:00:00 UTC")],
    )
    one = report_values()["one"]
    assert one["uptime_last_hour"] == pytest.approx(60.0)
    assert one["uptime_last_day"] == pytest.approx(24.0)
    assert one["uptime_last_week"] == pytest.approx(168.0)
    assert one["downtime_last_hour"] == one["downtime_last_day"] == one["downtime_last_week"] == 0


@pytest.mark.parametrize(
    ("opens", "closes", "clock", "expected_hours"),
    [
        # Spring forward, Sunday 2023-03-12: 01:00 CST = 07:00Z, 04:00 CDT = 09:00Z → 2 real hours.
        ("01:00:00", "04:00:00", "2023-03-12 20:00:00 UTC", 2.0),
        # A start in the gap: 02:30 (fold=0, CST) = 08:30Z, 04:00 CDT = 09:00Z.
        ("02:30:00", "04:00:00", "2023-03-12 20:00:00 UTC", 0.5),
        # Wholly inside the gap after conversion: 02:30 → 08:30Z, 03:30 CDT → 08:30Z: empty.
        ("02:30:00", "03:30:00", "2023-03-12 20:00:00 UTC", 0.0),
        # Fall back, Sunday 2023-11-05: 01:00 CDT (the earlier of two) = 06:00Z, 03:00 CST = 09:00Z → 3 h.
        ("01:00:00", "03:00:00", "2023-11-05 20:00:00 UTC", 3.0),
        # 01:30 is ambiguous: the first occurrence, 06:30Z; 01:45 → 06:45Z.
        ("01:30:00", "01:45:00", "2023-11-05 20:00:00 UTC", 0.25),
    ],
)
def test_daylight_saving_changes_count_real_elapsed_time(
    import_stores, report_values, opens, closes, clock, expected_hours
):
    import_stores(
        status=[("dst", "active", clock.replace("20:00", "19:00")), *clock_at(clock)],
        hours=[("dst", 6, opens, closes)],  # Sundays only
        zones=[("dst", "America/Chicago")],
    )
    dst = report_values()["dst"]
    assert dst["uptime_last_day"] == pytest.approx(expected_hours, abs=1e-9)
    assert dst["uptime_last_week"] == pytest.approx(expected_hours, abs=1e-9)  # last Sunday is outside the week


def test_end_equal_to_start_means_open_24_hours(import_stores, report_values):
    # Monday 10:00-10:00 → Monday 10:00 to Tuesday 10:00.
    import_stores(
        status=[("E", "active", "2023-01-23 08:00:00 UTC"), *clock_at("2023-01-25 12:00:00 UTC")],
        hours=[("E", 0, "10:00:00", "10:00:00")],
        zones=[("E", "UTC")],
    )
    e = report_values()["E"]
    assert e["uptime_last_week"] == pytest.approx(24.0)
    assert e["uptime_last_day"] == 0  # Tuesday 12:00 to Wednesday 12:00 is closed


def test_23_59_59_leaves_the_last_second_closed(import_stores, report_values):
    import_stores(
        status=[("S", "active", "2023-01-23 08:00:00 UTC"), *clock_at("2023-01-24 12:00:00 UTC")],
        hours=[("S", 0, "00:00:00", "23:59:59")],
        zones=[("S", "UTC")],
    )
    assert report_values()["S"]["uptime_last_week"] * 3600 == pytest.approx(24 * 3600 - 1)


def test_missing_hours_mean_open_all_week_and_sums_are_exact(import_stores, report_values, settings):
    polls = [
        ("M", "active" if i % 3 else "inactive", f"2023-01-{17 + i // 24:02d} {i % 24:02d}:17:13.5 UTC")
        for i in range(190)
    ]
    import_stores(status=polls, hours=[("other", 1, "09:00:00", "17:00:00")])  # another store's hours only
    m = report_values()["M"]
    assert m["uptime_last_hour"] + m["downtime_last_hour"] == pytest.approx(60.0, abs=1e-9)
    assert m["uptime_last_day"] + m["downtime_last_day"] == pytest.approx(24.0, abs=1e-9)
    assert m["uptime_last_week"] + m["downtime_last_week"] == pytest.approx(168.0, abs=1e-9)
    assert 0 < m["uptime_last_week"] < 168

    # In the CSV too, after rounding to two decimals.
    report = services.report_request(kind="store_uptime")
    services.store_report_generate(report_id=report.id)
    report.refresh_from_db()
    with open(settings.REPORTS_DIR / report.csv_file, newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["store_id"] == "M")
    for window, total in (("hour", 60), ("day", 24), ("week", 168)):
        assert float(row[f"uptime_last_{window}"]) + float(row[f"downtime_last_{window}"]) == pytest.approx(
            total, abs=1e-9
        )


def test_a_weekday_without_rows_is_closed(import_stores, report_values):
    import_stores(
        status=[("W", "active", "2023-01-23 08:00:00 UTC"), *clock_at("2023-01-25 00:00:00 UTC")],
        hours=[("W", 0, "09:00:00", "17:00:00")],  # Mondays only; the day window is Tuesday
        zones=[("W", "UTC")],
    )
    w = report_values()["W"]
    assert (w["uptime_last_day"], w["downtime_last_day"]) == (0, 0)
    assert w["uptime_last_week"] == pytest.approx(8.0)


def test_overlapping_and_repeated_rows_count_once(import_stores, report_values):
    import_stores(
        status=[("O", "inactive", "2023-01-23 08:00:00 UTC"), *clock_at("2023-01-24 00:00:00 UTC")],
        hours=[
            ("O", 0, "09:00:00", "13:00:00"),
            ("O", 0, "09:00:00", "13:00:00"),
            ("O", 0, "12:00:00", "15:00:00"),
            ("O", 0, "14:00:00", "14:30:00"),
        ],
        zones=[("O", "UTC")],
    )
    assert report_values()["O"]["downtime_last_day"] == pytest.approx(6.0)


def test_windows_are_open_at_the_right_and_now_is_global(import_stores, report_values):
    # "now" is the latest poll of any store (the clock), not of this store.
    import_stores(
        status=[
            ("R", "active", "2023-01-23 10:00:00 UTC"),
            ("R", "inactive", "2023-01-23 10:40:00 UTC"),  # midpoint 10:20
            *clock_at("2023-01-23 11:00:00 UTC"),
        ]
    )
    r = report_values()["R"]
    assert r["uptime_last_hour"] == pytest.approx(20.0)
    assert r["downtime_last_hour"] == pytest.approx(40.0)
    assert set(report_values()) == {"R", CLOCK}  # stores only in menu_hours or timezones are not reported


def test_stores_only_in_hours_or_zones_are_not_reported(import_stores, report_values):
    import_stores(
        status=[("P", "active", "2023-01-23 10:00:00 UTC")],
        hours=[("orphan-hours", 0, "09:00:00", "17:00:00")],
        zones=[("orphan-zone", "UTC")],
    )
    assert list(report_values()) == ["P"]
