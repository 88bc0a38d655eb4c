"""Sample store rows and a writer of the three CSVs, shared by the reports tests."""

import csv
from pathlib import Path

STATUS = [
    ("s1", "active", "2023-01-23 10:00:00 UTC"),
    ("s1", "inactive", "2023-01-23 11:00:00.5 UTC"),
    ("s1", "inactive", "2023-01-23 11:00:00.5 UTC"),  # an exact duplicate row
    ("s2", "active", "2023-01-23 10:30:00 UTC"),
]
HOURS = [("s1", 0, "09:00:00", "17:00:00"), ("s1", 0, "09:00:00", "17:00:00"), ("s2", 1, "22:00:00", "02:00:00")]
ZONES = [("s1", "America/New_York"), ("s2", "Europe/London")]


def write_store_csvs(directory: Path, *, status=(), hours=(), zones=(), day_column="dayOfWeek") -> Path:
    """Write the three CSVs (each only when rows are given, or as None for header-only files)."""
    directory.mkdir(parents=True, exist_ok=True)
    layout = {
        "store_status.csv": (("store_id", "status", "timestamp_utc"), status),
        "menu_hours.csv": (("store_id", day_column, "start_time_local", "end_time_local"), hours),
        "timezones.csv": (("store_id", "timezone_str"), zones),
    }
    for name, (header, rows) in layout.items():
        with open(directory / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    return directory
