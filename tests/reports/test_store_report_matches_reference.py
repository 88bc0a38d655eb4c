"""Acceptance: the report on 1,000 generated stores matches the plain reference within 0.01 everywhere."""

import csv

from reports import services
from tests.reports.reference import reference_report

TOLERANCE = 0.01 + 1e-9


def test_generated_1000_stores_match_the_reference(db, generated_1000, settings):
    services.store_data_import_directory(directory=generated_1000)
    report = services.report_request(kind="store_uptime")
    services.store_report_generate(report_id=report.id)
    report.refresh_from_db()
    assert report.status == "COMPLETE", report.error
    with open(settings.REPORTS_DIR / report.csv_file, newline="") as handle:
        rows = list(csv.DictReader(handle))

    expected = reference_report(generated_1000)
    assert [r["store_id"] for r in rows] == list(expected)  # same stores, ascending
    assert report.row_count == len(expected) == 1000
    worst = 0.0
    for row in rows:
        for column, value in expected[row["store_id"]].items():
            difference = abs(float(row[column]) - value)
            worst = max(worst, difference)
            assert difference <= TOLERANCE, (row["store_id"], column, row[column], value)
    for row in rows:  # the invariants of the specification
        for window, total in (("hour", 60), ("day", 24), ("week", 168)):
            up, down = float(row[f"uptime_last_{window}"]), float(row[f"downtime_last_{window}"])
            assert up >= 0 and down >= 0 and up + down <= total + 1e-9
    assert worst <= 0.005 + 1e-9  # only the rounding to two decimals
