"""ingest_documents and watch_documents --once, in process."""

import io

import pytest
from django.core.management import CommandError, call_command

from documents.models import Batch, Document, LedgerState, WatchedFile
from jobs.models import Job
from jobs.scheduling.models import Schedule
from tests.documents import samples

pytestmark = pytest.mark.django_db


def test_ingest_imports_files_and_folders_once_as_a_batch(tmp_path, document_storage):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "a.csv").write_bytes(samples.csv_bytes())
    (tmp_path / "in" / "sub" / "b.json").write_bytes(samples.json_bytes())
    (tmp_path / "in" / "sub" / "copy.csv").write_bytes(samples.csv_bytes())
    (tmp_path / "c.md").write_bytes(samples.markdown_bytes())
    out = io.StringIO()
    call_command("ingest_documents", str(tmp_path / "in"), str(tmp_path / "c.md"), "--no-progress", stdout=out)
    assert "4 files: 1 duplicate, 3 new." in out.getvalue()
    batch = Batch.objects.get()
    assert batch.documents.count() == 3 and batch.file_count == 4 and batch.job.actor_name.endswith("batch")
    assert set(Document.objects.values_list("source", flat=True)) == {"import"}
    call_command("ingest_documents", str(tmp_path / "in"), "--no-progress", "--no-batch", stdout=io.StringIO())
    assert Document.objects.count() == 3


def test_ingest_refuses_a_missing_path(tmp_path):
    with pytest.raises(CommandError, match="neither a file nor a folder"):
        call_command("ingest_documents", str(tmp_path / "missing"))


def test_watch_once_ingests_settled_files(tmp_path, document_storage):
    folder = tmp_path / "watch"
    folder.mkdir()
    (folder / "a.txt").write_bytes(samples.text_bytes())
    out = io.StringIO()
    call_command("watch_documents", str(folder), "--once", "--settle-seconds", "0.3", stdout=out)
    assert "1 files ingested" in out.getvalue()
    assert WatchedFile.objects.get().state == LedgerState.INGESTED
    assert Job.objects.filter(actor_name="documents.process_document_file").count() == 1


def test_the_daily_cleanup_schedule_is_built_in():
    schedule = Schedule.objects.get(name="Clean up old documents")
    assert schedule.actor_name == "documents.cleanup_old_processed_files" and schedule.enabled
    assert schedule.cron == "45 3 * * *"
