"""Store reports end to end: the real import, a real worker computing the report, the CSV download."""

import csv
import io

import pytest

from jobs.models import JobStatus
from reports import services
from reports.models import ReportStatus
from tests.integration.conftest import wait_for, wait_status
from tests.reports.conftest import compute_from_database
from tests.reports.samples import write_store_csvs

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# The specification's cases in one data set; "clock" is polled last and sets the report's "now".
STATUS = [
    ("A", "active", "2023-01-23 10:14:00 UTC"),  # the worked example: 104.5 / 75.5 minutes
    ("A", "inactive", "2023-01-23 11:15:00 UTC"),
    ("always-open", "active", "2023-01-23 20:30:00 UTC"),  # no hours rows: open 24x7
    ("always-open", "inactive", "2023-01-23 22:40:00 UTC"),
    ("one-poll", "inactive", "2023-01-22 12:00:00 UTC"),
    ("no-zone", "active", "2023-01-23 15:00:00 UTC"),  # unknown time zone: America/Chicago
    ("dup", "active", "2023-01-23 22:30:00 UTC"),  # a conflicting duplicate: inactive wins
    ("dup", "inactive", "2023-01-23 22:30:00 UTC"),
    ("clock", "active", "2023-01-23 23:00:00 UTC"),
]
HOURS = [("A", 0, "09:00:00", "12:00:00"), ("no-zone", 0, "08:00:00", "18:00:00")]
ZONES = [("A", "UTC"), ("always-open", "UTC"), ("one-poll", "Asia/Kolkata"), ("dup", "UTC"), ("clock", "UTC")]
COLUMNS = [f"{k}_{w}" for k in ("uptime", "downtime") for w in ("last_hour", "last_day", "last_week")]


def test_a_store_report_computed_by_a_real_worker_matches_the_specification(
    staff_client, start_worker, tmp_path, settings
):
    settings.REPORTS_DIR = tmp_path / "reports"
    services.store_data_import_directory(
        directory=write_store_csvs(tmp_path / "data", status=STATUS, hours=HOURS, zones=ZONES)
    )
    start_worker(env={"REPORTS_DIR": str(settings.REPORTS_DIR)})
    triggered = staff_client.post("/api/v1/reports/trigger").json()
    assert triggered["status"] == ReportStatus.PENDING
    wait_status(triggered["task_id"], JobStatus.SUCCEEDED, timeout=60)

    def complete_status():
        status = staff_client.get("/api/v1/reports/status", {"report_id": triggered["report_id"]}).json()
        return status if status["status"] == ReportStatus.COMPLETE else None

    status = wait_for(complete_status, timeout=10, message="report COMPLETE")
    response = staff_client.get(status["url"])
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    rows = {row["store_id"]: row for row in csv.DictReader(io.StringIO(body.decode()))}
    a = rows["A"]
    assert float(a["uptime_last_day"]) == pytest.approx(104.5 / 60, abs=0.005)
    assert float(a["downtime_last_day"]) == pytest.approx(75.5 / 60, abs=0.005)
    open_all_day = rows["always-open"]
    assert float(open_all_day["uptime_last_hour"]) + float(open_all_day["downtime_last_hour"]) == pytest.approx(60)
    assert float(open_all_day["uptime_last_day"]) + float(open_all_day["downtime_last_day"]) == pytest.approx(24)
    assert float(open_all_day["uptime_last_week"]) + float(open_all_day["downtime_last_week"]) == pytest.approx(168)
    # Every cell the worker wrote agrees with the computation run here on the same database.
    expected = compute_from_database()
    assert set(rows) == set(expected)
    for store, values in expected.items():
        for column in COLUMNS:
            assert float(rows[store][column]) == pytest.approx(values[column], abs=0.01), (store, column)
