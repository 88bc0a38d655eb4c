"""Documents end to end: uploads through the API, a real worker, real PostgreSQL (or SQLite) and Redis."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import Document, DocumentStatus
from jobs.models import Job, JobStatus, Worker
from tests.documents import samples
from tests.documents.conftest import HAS_TESSERACT, change_document_settings, needs_tesseract, use_document_storage
from tests.integration.conftest import wait_for, wait_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PROCESS_ACTOR = "documents.process_document_file"


@pytest.fixture
def worker_env(settings, tmp_path):
    """The worker stores and reads documents where this test does."""
    return {"DOCUMENTS_UPLOAD_DIR": str(use_document_storage(settings, tmp_path))}


def upload(client, *files):
    response = client.post(
        "/api/v1/documents",
        {"file": [SimpleUploadedFile(name, content) for name, content in files]},
        format="multipart",
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def wait_finished(document_id, timeout=90) -> Document:
    return wait_for(
        lambda: (doc := Document.objects.get(pk=document_id)).is_finished and doc,
        timeout=timeout,
        message=f"document {document_id} to finish",
    )


def test_every_format_uploaded_as_one_batch_is_extracted_by_a_real_worker(staff_client, start_worker, worker_env):
    start_worker(queues=["documents"], threads=4, env=worker_env)
    formats = list(samples.FORMATS)
    files = [(name, make()) for name, make, *_ in formats]
    if HAS_TESSERACT:
        files += [(name, make()) for name, make, *_ in samples.IMAGE_FORMATS]
    body = upload(staff_client, *files)
    batch = body["batch"]
    assert batch["documents"] == len(files)
    parent = wait_status(batch["job_id"], JobStatus.SUCCEEDED, timeout=180)
    problems = list(Document.objects.exclude(status=DocumentStatus.PROCESSED).values_list("original_name", "error"))
    assert parent.progress == 100 and parent.result["processed"] == len(files), problems
    assert Job.objects.filter(parent_id=parent.pk, actor_name=PROCESS_ACTOR).count() == len(files)
    progress = staff_client.get(f"/api/v1/documents/batches/{batch['id']}").json()
    assert progress["percent"] == 100.0 and progress["processed"] == len(files) and progress["failed"] == 0
    by_name = {d["original_name"]: d["id"] for d in body["documents"]}
    for name, _make, mime, kind, metadata in formats:
        detail = staff_client.get(f"/api/v1/documents/{by_name[name]}").json()
        assert detail["status"] == DocumentStatus.PROCESSED, (name, detail["error"])
        assert detail["mime_type"] == mime, name
        for key, value in metadata.items():
            assert detail["metadata"].get(key) == value, (name, key)
        assert detail["metadata"]["words"] > 0 and detail["processing_seconds"] > 0
        text = staff_client.get(f"/api/v1/documents/{by_name[name]}/text").json()["text"]
        assert samples.phrase(kind) in text, name
    found = staff_client.get("/api/v1/documents", {"search": "quokka docx"}).json()["results"]
    assert [d["original_name"] for d in found] == ["letter.docx"]


@needs_tesseract
def test_ocr_reads_rendered_text_in_an_image_and_a_scanned_pdf(staff_client, start_worker, worker_env):
    start_worker(queues=["documents"], threads=2, env=worker_env)
    image = upload(staff_client, ("photo.png", samples.png_bytes()))["documents"][0]
    scan = upload(staff_client, ("scan.pdf", samples.scanned_pdf_bytes()))["documents"][0]
    for document_id in (image["id"], scan["id"]):
        document = wait_finished(document_id)
        assert document.status == DocumentStatus.PROCESSED, document.error
        assert samples.OCR_TEXT in document.text and document.metadata["ocr"] is True


def test_bad_files_end_with_a_reason_and_the_same_worker_goes_on(staff_client, start_worker, worker_env, settings):
    # A low memory ceiling makes an ordinary large image exceed it while decoding.
    worker = start_worker(queues=["documents"], threads=1, env={**worker_env, "DOCUMENTS_EXTRACTION_MEMORY_MB": "256"})
    children = sorted(worker.pool_children_pids())
    cases = [
        ("corrupt.pdf", samples.corrupt_pdf(), DocumentStatus.FAILED, "corrupt or truncated"),
        ("bomb.docx", samples.docx_zip_bomb(), DocumentStatus.REJECTED, "zip bomb"),
        ("huge.png", samples.image_over_pixel_limit(10_000), DocumentStatus.REJECTED, "pixel limit"),
        ("empty.txt", b"", DocumentStatus.REJECTED, "The file is empty"),
        ("memory.png", samples.image_needing_memory(8000), DocumentStatus.FAILED, "exceeded 256 MB while parsing"),
    ]
    for name, data, status, message in cases:
        document_id = upload(staff_client, (name, data))["documents"][0]["id"]
        document = wait_finished(document_id)
        assert document.status == status and message in document.error, (name, document.error)
        job = wait_status(document.job_id, JobStatus.FAILED, timeout=30)
        assert message in job.error_message and job.attempts == 1, name  # permanent: no retry
    change_document_settings(settings, MAX_UPLOAD_BYTES=1024 * 1024)
    too_big = staff_client.post(
        "/api/v1/documents", {"file": SimpleUploadedFile("big.txt", b"x" * (2 * 1024 * 1024))}, format="multipart"
    )
    assert too_big.status_code == 413 and "limit" in too_big.json()["error"]["message"]
    assert Document.objects.count() == len(cases)
    valid = upload(staff_client, ("fine.csv", samples.csv_bytes()))["documents"][0]
    assert wait_finished(valid["id"]).status == DocumentStatus.PROCESSED
    # The same worker processes (no restart of the pool) did all of it.
    # (Extractor children show up beside them: they are the worker processes' own children.)
    assert set(children) <= set(worker.pool_children_pids()) and worker.alive()
    assert Worker.objects.filter(pid__in=children, stopped_at__isnull=True).count() == len(children)


def test_the_same_bytes_uploaded_twice_are_one_document_and_one_job(staff_client, start_worker, worker_env):
    start_worker(queues=["documents"], threads=2, env=worker_env)
    first = upload(staff_client, ("a.pdf", samples.pdf_bytes()))["documents"][0]
    second = upload(staff_client, ("b.pdf", samples.pdf_bytes()))["documents"][0]
    assert second["id"] == first["id"] and second["duplicate"] is True
    assert wait_finished(first["id"]).status == DocumentStatus.PROCESSED
    third = upload(staff_client, ("c.pdf", samples.pdf_bytes()))["documents"][0]
    assert third["duplicate"] is True and third["status"] == DocumentStatus.PROCESSED
    assert Document.objects.count() == 1
    assert Job.objects.filter(actor_name=PROCESS_ACTOR).count() == 1
