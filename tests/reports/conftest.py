"""Fixtures of the reports tests: report files in a temporary folder, store CSVs written on the fly."""

import importlib.util
import os
from pathlib import Path

import pytest
from django.conf import settings

from reports import selectors, services
from reports.computations.store_uptime import compute_store_uptime
from tests.reports.samples import write_store_csvs

# A copy of shared/tools/store_data_gen.py lives in bench/, so the acceptance check never skips for want of it.
GENERATOR = Path(os.environ.get("STORE_DATA_GEN", Path(settings.BASE_DIR) / "bench" / "store_data_gen.py"))


@pytest.fixture(autouse=True)
def reports_dir(settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "report-files"
    return settings.REPORTS_DIR


@pytest.fixture
def import_stores(db, tmp_path):
    """import_stores(status=[...], hours=[...], zones=[...]) writes the CSVs and runs the real import."""
    counter = {"n": 0}

    def run(**rows):
        counter["n"] += 1
        directory = write_store_csvs(tmp_path / f"import-{counter['n']}", **rows)
        return services.store_data_import_directory(directory=directory)

    return run


def compute_from_database() -> dict[str, dict[str, float]]:
    """The exact (unrounded) values of every reported store, read from the database."""
    result = compute_store_uptime(selectors.store_data())
    columns = [
        f"{kind}_{window}" for kind in ("uptime", "downtime") for window in ("last_hour", "last_day", "last_week")
    ]
    return {store: dict(zip(columns, values, strict=True)) for store, values in result.rows()}


@pytest.fixture
def report_values(db):
    return compute_from_database


def load_generator():
    assert GENERATOR.is_file(), f"store data generator not found at {GENERATOR} (set STORE_DATA_GEN)"
    spec = importlib.util.spec_from_file_location("store_data_gen", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generated_1000(tmp_path_factory):
    """1,000 generated stores (seeded), written once per test session."""
    directory = tmp_path_factory.mktemp("generated-1000")
    load_generator().main(["--stores", "1000", "--out", str(directory), "--seed", "11"])
    return directory
