"""python manage.py import_store_data DIR."""

import io

import pytest
from django.core.management import CommandError, call_command

from reports.models import StorePoll
from tests.reports.samples import HOURS, STATUS, ZONES, write_store_csvs


def test_import_store_data_loads_a_directory(db, tmp_path):
    directory = write_store_csvs(tmp_path / "data", status=STATUS, hours=HOURS, zones=ZONES, day_column="day")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_store_data", str(directory), stdout=out, stderr=err)
    assert StorePoll.objects.count() == 3
    assert "store_status.csv: rows 4, stores 2, polls 3, new_polls 3" in out.getvalue()
    call_command("import_store_data", str(directory), "--no-progress", stdout=out, stderr=err)
    assert StorePoll.objects.count() == 3


def test_import_store_data_reports_bad_rows(db, tmp_path):
    directory = write_store_csvs(tmp_path / "data", status=[*STATUS, ("x", "on", "2023-01-23 10:00:00 UTC")])
    with pytest.raises(CommandError, match=r"1 bad rows \(1 × unknown status\) at lines 6"):
        call_command("import_store_data", str(directory), "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())
    assert StorePoll.objects.count() == 0


def test_import_store_data_needs_a_directory_with_the_files(db, tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("import_store_data", str(tmp_path / "nope"), stdout=io.StringIO())
    with pytest.raises(CommandError, match="holds none of"):
        call_command("import_store_data", str(tmp_path), stdout=io.StringIO())
