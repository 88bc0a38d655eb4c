"""Importing store data (all or nothing, no duplicates) and seeding the demo data set."""

from datetime import UTC, datetime

import pytest

from jobs.errors import ValidationFailed
from reports import services
from reports.models import ReportStatus, Store, StoreHours, StorePoll
from tests.reports.samples import HOURS, STATUS, ZONES, write_store_csvs


def counts():
    return Store.objects.count(), StorePoll.objects.count(), StoreHours.objects.count()


# --- Import ---------------------------------------------------------------------------------------


def test_import_loads_the_three_files(import_stores):
    result = import_stores(status=STATUS, hours=HOURS, zones=ZONES)
    by_file = {f["file"]: f for f in result.files}
    assert by_file["store_status.csv"]["rows"] == 4
    assert by_file["store_status.csv"]["polls"] == 3
    assert by_file["store_status.csv"]["new_polls"] == 3
    assert by_file["store_status.csv"]["merged_duplicate_rows"] == 1
    assert by_file["menu_hours.csv"]["hours_rows"] == 2  # the duplicate row is stored once
    assert counts() == (2, 3, 2)
    assert dict(Store.objects.values_list("store_id", "timezone_str")) == dict(ZONES)
    poll = StorePoll.objects.get(store__store_id="s1", active=False)
    assert poll.timestamp_utc == datetime(2023, 1, 23, 11, 0, 0, 500000, tzinfo=UTC)


def test_importing_the_same_files_again_adds_nothing(import_stores):
    import_stores(status=STATUS, hours=HOURS, zones=ZONES)
    before = counts()
    result = import_stores(status=STATUS, hours=HOURS, zones=ZONES)
    assert counts() == before
    assert next(f for f in result.files if f["file"] == "store_status.csv")["new_polls"] == 0


def test_new_polls_are_merged_with_stored_ones(import_stores):
    import_stores(status=STATUS)
    result = import_stores(
        status=[("s1", "active", "2023-01-23 12:00:00 UTC"), ("s3", "inactive", "2023-01-23 12:00:00 UTC")]
    )
    assert next(f for f in result.files if f["file"] == "store_status.csv")["new_polls"] == 2
    assert StorePoll.objects.count() == 5


def test_a_stores_hours_and_zone_are_replaced_by_a_new_file(import_stores):
    import_stores(status=STATUS, hours=HOURS, zones=ZONES)
    import_stores(hours=[("s1", 2, "10:00:00", "11:00:00")], zones=[("s1", "Asia/Kolkata")])
    assert list(StoreHours.objects.filter(store__store_id="s1").values_list("day_of_week", flat=True)) == [2]
    assert StoreHours.objects.filter(store__store_id="s2").count() == 1  # not in the new file: kept
    assert Store.objects.get(store_id="s1").timezone_str == "Asia/Kolkata"
    assert Store.objects.get(store_id="s2").timezone_str == "Europe/London"


def test_one_bad_file_means_nothing_is_imported(import_stores):
    bad_status = [*STATUS, ("s9", "maybe", "2023-01-23 10:00:00 UTC"), ("s9", "active", "soon")]
    with pytest.raises(ValidationFailed) as caught:
        import_stores(status=bad_status, hours=HOURS, zones=ZONES)
    assert counts() == (0, 0, 0)
    error = caught.value
    assert "store_status.csv: 2 bad rows" in error.message and "lines 6, 7" in error.message
    assert "Nothing was imported" in error.message
    (problem,) = error.details["files"]
    assert problem["file"] == "store_status.csv"
    assert [r["line"] for r in problem["bad_rows"]["rows"]] == [6, 7]


def test_a_file_with_missing_columns_is_rejected_by_name(db, tmp_path):
    directory = write_store_csvs(tmp_path / "d", zones=ZONES)
    (directory / "menu_hours.csv").write_text("store_id,weekday,start_time_local\n")
    with pytest.raises(ValidationFailed, match="menu_hours.csv is missing columns: dayOfWeek or day, end_time_local"):
        services.store_data_import_directory(directory=directory)
    assert counts() == (0, 0, 0)


def test_unknown_file_names_are_refused(db):
    with pytest.raises(ValidationFailed, match="Expected one or more of"):
        services.store_data_import(sources={"orders.csv": "x"})


def test_progress_bars_see_every_poll(import_stores, tmp_path):
    directory = write_store_csvs(tmp_path / "p", status=STATUS)
    bars = []

    class Bar:
        def __init__(self, **kwargs):
            self.desc, self.total, self.done = kwargs["desc"], kwargs["total"], 0
            bars.append(self)

        def update(self, n=1):
            self.done += n

        def close(self):
            pass

    services.store_data_import_directory(directory=directory, progress=Bar)
    loading = next(b for b in bars if b.desc == "loading polls")
    assert loading.done == loading.total == 3


# --- Demo data ------------------------------------------------------------------------------------


def test_seed_demo_data_imports_a_small_data_set_once(db):
    first = services.seed_demo_data()
    assert first["seeded"] is True
    assert StorePoll.objects.values("store").distinct().count() == 20
    assert services.seed_demo_data() == {"seeded": False, "reason": "store data exists already"}
    report = services.report_request()
    services.store_report_generate(report_id=report.id)
    report.refresh_from_db()
    assert (report.status, report.row_count) == (ReportStatus.COMPLETE, 20)
