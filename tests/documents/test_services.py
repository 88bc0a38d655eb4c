"""Intake, processing (in a real extractor child), batches and cleanup, without a worker."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from documents import selectors, services, storage
from documents.errors import DocumentFailed, DocumentRejected
from documents.models import Batch, Document, DocumentStatus
from jobs.errors import InvalidTransition, PayloadTooLarge
from jobs.models import Job
from tests.documents import samples
from tests.documents.factories import receive

pytestmark = pytest.mark.django_db


def zip_of_text() -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "hello")
    return out.getvalue()


def test_the_stored_file_is_named_after_its_sha256_and_holds_the_bytes(document_storage):
    received = receive(samples.text_bytes(), name="../../etc/passwd")
    document = received.document
    assert received.created
    assert document.original_name == "passwd"
    path = storage.path_of(document.storage_name)
    assert path.parent.parent.parent == document_storage
    assert path.name == document.sha256 and path.read_bytes() == samples.text_bytes()


def test_the_same_bytes_twice_are_one_document_and_one_job(document_storage):
    first = receive(samples.pdf_bytes(), name="a.pdf")
    second = receive(samples.pdf_bytes(), name="b.pdf")
    assert not second.created and second.document.pk == first.document.pk
    assert Document.objects.count() == 1
    assert Job.objects.filter(actor_name=services.PROCESS_ACTOR).count() == 1


def test_an_upload_over_the_limit_stores_nothing(document_storage):
    with pytest.raises(PayloadTooLarge):
        receive(b"x" * 2000, max_bytes=1000)
    assert Document.objects.count() == 0
    assert not [p for p in document_storage.rglob("*") if p.is_file()]


def test_several_files_make_one_batch_with_one_parent_job(document_storage):
    import io

    files = [(io.BytesIO(samples.csv_bytes()), "a.csv"), (io.BytesIO(samples.json_bytes()), "b.json")]
    files.append((io.BytesIO(samples.csv_bytes()), "again.csv"))
    upload = services.documents_upload(files=files)
    batch = upload.batch
    assert batch.file_count == 3 and batch.documents.count() == 2
    assert batch.duplicates == [{"name": "again.csv", "document_id": upload.received[0].document.pk}]
    assert batch.job.actor_name == services.BATCH_ACTOR
    # Children are submitted by the parent when it runs, not at upload.
    assert not Job.objects.filter(actor_name=services.PROCESS_ACTOR).exists()


def test_processing_stores_text_metadata_and_counts(document_storage):
    document = receive(samples.docx_bytes(), name="letter.docx").document
    result = services.document_process(document_id=document.pk)
    document.refresh_from_db()
    assert result["status"] == DocumentStatus.PROCESSED
    assert document.status == DocumentStatus.PROCESSED and document.error == ""
    assert samples.phrase("docx") in document.text
    assert document.title == samples.TITLE
    assert document.metadata["author"] == samples.AUTHOR
    assert document.metadata["words"] == len(document.text.split())
    assert document.metadata.get("language") in (None, "en")
    assert document.mime_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert document.claimed_type == document.mime_type
    assert document.processing_seconds > 0 and document.processed_at


def test_search_finds_processed_text(document_storage):
    document = receive(samples.markdown_bytes(), name="readme.md").document
    services.document_process(document_id=document.pk)
    receive(samples.csv_bytes(), name="other.csv")
    found = list(selectors.document_list(search="quokka marmalade"))
    assert [d.pk for d in found] == [document.pk]
    snippet = selectors.snippet_html(found[0], "quokka marmalade")
    assert "<mark>quokka</mark>" in snippet.lower() or "<mark>quokka" in snippet.lower()
    if connection.vendor == "postgresql":
        assert Document.objects.filter(pk=document.pk, search_vector__isnull=False).exists()


def test_snippets_escape_the_document_text(document_storage):
    document = receive(b"3 < 4 & zebracorn & 5 > 2 <b>bold</b>\n", name="x.txt").document
    services.document_process(document_id=document.pk)
    found = list(selectors.document_list(search="zebracorn"))
    snippet = selectors.snippet_html(found[0], "zebracorn")
    assert "<mark>zebracorn</mark>" in snippet
    rest = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in rest and ">" not in rest


def test_snippet_markers_become_marks_around_escaped_text():
    class Found:
        headline = f"<b>x</b> {selectors.START}hit{selectors.STOP} & more"

    snippet = selectors.snippet_html(Found(), "hit")
    if connection.vendor == "postgresql":
        assert snippet == "&lt;b&gt;x&lt;/b&gt; <mark>hit</mark> &amp; more"
    else:
        assert "<mark>hit</mark>" in snippet and "&lt;b&gt;" in snippet


@pytest.mark.parametrize(
    ("data", "name", "status", "message"),
    [
        (b"", "empty.txt", DocumentStatus.REJECTED, "empty"),
        (zip_of_text(), "archive.zip", DocumentStatus.REJECTED, "Unsupported type application/zip"),
        (samples.corrupt_pdf(), "bad.pdf", DocumentStatus.FAILED, "corrupt or truncated"),
        (samples.docx_zip_bomb(8 * 1024 * 1024), "bomb.docx", DocumentStatus.REJECTED, "zip bomb"),
    ],
    ids=["empty", "unsupported", "corrupt-pdf", "zip-bomb"],
)
def test_bad_files_end_with_a_status_and_a_reason(document_storage, data, name, status, message):
    document = receive(data, name=name).document
    expected = DocumentRejected if status == DocumentStatus.REJECTED else DocumentFailed
    with pytest.raises(expected, match=message):
        services.document_process(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == status
    assert message in document.error


def test_metadata_only_reads_metadata_and_leaves_the_text(document_storage):
    document = receive(samples.pptx_bytes(), name="deck.pptx").document
    services.document_extract_metadata(document_id=document.pk)
    document.refresh_from_db()
    assert document.metadata["slide_count"] == 2 and document.page_count == 2
    assert document.text == "" and document.status == DocumentStatus.RECEIVED


def test_reprocess_is_refused_while_a_job_is_live(document_storage):
    document = receive(samples.text_bytes()).document
    with pytest.raises(InvalidTransition, match="being processed"):
        services.document_reprocess(document_id=document.pk)


def test_batch_processing_follows_its_documents(document_storage):
    import io

    upload = services.documents_upload(
        files=[(io.BytesIO(samples.csv_bytes()), "a.csv"), (io.BytesIO(b""), "empty.txt")]
    )
    for received in upload.received:
        try:
            services.document_process(document_id=received.document.pk)
        except DocumentRejected:
            pass
    result = services.batch_process(batch_id=upload.batch.pk)
    assert result["total"] == 2 and result["finished"] == 2
    assert result["processed"] == 1 and result["rejected"] == 1
    progress = selectors.batch_progress(selectors.batch_get(upload.batch.pk))
    assert progress.percent == 100.0 and progress.failed == 1


def test_cleanup_deletes_old_finished_documents_and_their_files(document_storage):
    old = receive(samples.csv_bytes(), name="old.csv").document
    services.document_process(document_id=old.pk)
    fresh = receive(samples.json_bytes(), name="fresh.json").document
    services.document_process(document_id=fresh.pk)
    waiting = receive(samples.text_bytes(), name="waiting.txt").document
    Document.objects.filter(pk__in=[old.pk, waiting.pk]).update(
        processed_at=timezone.now() - timedelta(days=400), created_at=timezone.now() - timedelta(days=400)
    )
    Batch.objects.create(source="upload", created_at=timezone.now() - timedelta(days=400))
    result = services.documents_cleanup(older_than_days=365)
    assert result["documents_deleted"] == 1 and result["batches_deleted"] == 1
    assert result["bytes_freed"] == len(samples.csv_bytes())
    assert set(Document.objects.values_list("pk", flat=True)) == {fresh.pk, waiting.pk}
    assert not storage.path_of(old.storage_name).exists()
    assert storage.path_of(fresh.storage_name).exists()


def test_cleanup_with_retention_zero_keeps_everything(document_storage):
    receive(samples.csv_bytes())
    assert services.documents_cleanup(older_than_days=0)["disabled"] is True
    assert Document.objects.count() == 1


def test_the_language_guess_names_common_languages_and_abstains_otherwise():
    from documents.language import guess_language

    assert guess_language("The report is in the drawer and it was written for the board of the company.") == "en"
    assert (
        guess_language("Der Bericht ist in der Schublade und er wurde für die Leitung des Hauses geschrieben.") == "de"
    )
    assert guess_language("xylophone quokka marmalade") == ""
