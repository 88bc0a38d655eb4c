"""Writes of the reports app (the only writers): store data import, report requests and runs."""

from reports.services.report_runs import (
    ACTORS,
    report_request,
    store_report_generate,
    task_report_generate,
)
from reports.services.store_data import (
    ImportResult,
    seed_demo_data,
    store_data_import,
    store_data_import_directory,
)

__all__ = [
    "ACTORS",
    "ImportResult",
    "report_request",
    "seed_demo_data",
    "store_data_import",
    "store_data_import_directory",
    "store_report_generate",
    "task_report_generate",
]
