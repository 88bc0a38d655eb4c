"""The import_records command: progress bar, bad rows reported by line, repeats change nothing."""

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import Record

pytestmark = pytest.mark.django_db


def test_import_records_reports_bad_rows_and_a_repeat_changes_nothing(tmp_path, capsys):
    path = tmp_path / "vendors.csv"
    path.write_text("id,country,name\nV1,US,Acme\nV2,DE,Globex\n,FR,No id\nV3,CA,Initech,extra\n")
    call_command("import_records", str(path), "--source", "vendors")
    out = capsys.readouterr()
    assert "3 created" not in out.out and "2 created" in out.out and "2 bad" in out.out
    assert "line 4:" in out.err and "line 5: more cells" in out.err
    assert "importing vendors" in out.err  # the progress bar
    stamps = dict(Record.objects.values_list("external_id", "updated_at"))
    call_command("import_records", str(path), "--source", "vendors", "--no-progress")
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out
    assert dict(Record.objects.values_list("external_id", "updated_at")) == stamps
    path.write_text("id,country,name\nV1,US,Acme Corp\n")
    call_command("import_records", str(path), "--source", "vendors", "--no-progress")
    assert "1 updated" in capsys.readouterr().out
    assert Record.objects.get(external_id="V1").updated_at > stamps["V1"]


def test_import_records_refuses_unknown_formats_and_missing_files(tmp_path):
    with pytest.raises(CommandError, match="format"):
        call_command("import_records", str(tmp_path / "x.txt"), "--source", "s")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_records", str(tmp_path / "missing.csv"), "--source", "s")


def test_a_malformed_csv_row_is_reported_and_the_rest_imported(tmp_path, capsys):
    path = tmp_path / "big.csv"
    path.write_text("id,notes\nA,ok\nB," + "x" * 200_000 + "\nC,fine\n")
    call_command("import_records", str(path), "--source", "s", "--no-progress")
    captured = capsys.readouterr()
    assert "line 3: not CSV" in captured.err and "2 created" in captured.out
    assert set(Record.objects.values_list("external_id", flat=True)) == {"A", "C"}
