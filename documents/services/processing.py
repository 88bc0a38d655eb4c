"""Processing: detect the type, check the limits, extract in an isolated child, store text and metadata.

A document ends ``processed``, ``partial`` (parts named), ``failed`` or ``rejected`` with a
readable reason; failed and rejected documents fail their job at once (retrying cannot help).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from documents import detection, extractors, guards, storage
from documents.errors import DocumentFailed, DocumentRejected
from documents.extractors.base import Extraction, ExtractionError, Limits, Rejected
from documents.isolation import default_pool
from documents.language import guess_language
from documents.models import FINISHED_STATUSES, Batch, Document, DocumentStatus
from documents.services.intake import document_submit
from jobs.errors import JobCancelled, PermanentError

logger = logging.getLogger(__name__)
S = DocumentStatus
ZIP_BASED = {extractors.DOCX, extractors.XLSX, extractors.PPTX, extractors.ODT, extractors.ODS, extractors.ODP}
ENCRYPTED_TYPES = {"application/encrypted"}
BATCH_POLL_SECONDS = 0.5


def setting(name: str):
    return settings.DOCUMENTS[name]


def limits_from_settings() -> Limits:
    return Limits(
        max_text_chars=setting("MAX_TEXT_CHARS"),
        max_image_pixels=setting("MAX_IMAGE_PIXELS"),
        rtf_max_bytes=setting("RTF_MAX_BYTES"),
        ocr_languages=setting("OCR_LANGUAGES"),
        ocr_max_pages=setting("OCR_MAX_PAGES"),
        ocr_dpi=setting("OCR_DPI"),
    )


def _get(document_id) -> Document:
    try:
        return Document.objects.get(pk=document_id)
    except Document.DoesNotExist:
        raise PermanentError(f"Document {document_id} does not exist (deleted meanwhile?).") from None


def _claim(document_id, job) -> Document:
    """Mark the document processing and read what processing needs, in one round trip (UPDATE … RETURNING)."""
    table = Document._meta.db_table
    job_id = None
    if job is not None:
        job_id = Document._meta.get_field("job").target_field.get_db_prep_value(job.job_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, error = '', job_id = COALESCE(%s, job_id) WHERE id = %s "
            "RETURNING id, original_name, size, storage_name",
            [S.PROCESSING, job_id, int(document_id)],
        )
        row = cursor.fetchone()
    if row is None:
        raise PermanentError(f"Document {document_id} does not exist (deleted meanwhile?).")
    pk, original_name, size, storage_name = row
    return Document(pk=pk, original_name=original_name, size=size, storage_name=storage_name, status=S.PROCESSING)


def _detect_and_check(document: Document) -> tuple[str, detection.Detected]:
    """The stored file's path and type; raises Rejected or ExtractionError before any parser runs."""
    try:
        path = str(storage.path_of(document.storage_name))
    except ValueError as exc:
        raise ExtractionError(str(exc)) from None
    if document.size == 0:
        raise Rejected("The file is empty (0 bytes).")
    try:
        detected = detection.detect(path, document.original_name)
    except FileNotFoundError:
        raise ExtractionError("The stored file is missing; upload it again.") from None
    # Written with the outcome (one UPDATE per document fewer): a rejection names the type too.
    document.mime_type, document.claimed_type = detected.mime_type, detected.claimed_type
    if detected.mime_type in ENCRYPTED_TYPES:
        raise ExtractionError(f"The file is encrypted ({detected.description}); it cannot be read.")
    if not extractors.is_supported(detected.mime_type):
        raise Rejected(f"Unsupported type {detected.mime_type} ({detected.description}).")
    if detected.mime_type in ZIP_BASED:
        guards.check_zip_archive(
            path,
            max_uncompressed=setting("ZIP_MAX_UNCOMPRESSED_BYTES"),
            max_ratio=setting("ZIP_MAX_RATIO"),
            max_members=setting("ZIP_MAX_MEMBERS"),
        )
    return path, detected


def run_isolated(*, path: str, mime_type: str, metadata_only: bool = False, job=None) -> Extraction:
    """Extract in a child process under the memory ceiling and the wall-clock limit."""
    response = default_pool().run(
        {
            "path": path,
            "mime_type": mime_type,
            "limits": limits_from_settings().as_dict(),
            "metadata_only": metadata_only,
        },
        memory_bytes=setting("EXTRACTION_MEMORY_MB") * 1024 * 1024,
        timeout=setting("EXTRACTION_TIMEOUT"),
        recycle_after=setting("EXTRACTOR_RECYCLE_AFTER"),
        on_wait=job.check_cancelled if job is not None else None,
    )
    if not response["ok"]:
        if response["kind"] == "rejected":
            raise Rejected(response["message"])
        raise ExtractionError(response["message"])
    return Extraction(**response["extraction"])


def _enrich(document: Document, extraction: Extraction) -> dict:
    metadata = dict(extraction.metadata)
    text = extraction.text
    metadata["characters"] = len(text)
    metadata["words"] = len(text.split())
    language = guess_language(text)
    if language:
        metadata["language"] = language
    if extraction.failed_parts:
        metadata["failed_parts"] = extraction.failed_parts[:100]
    return metadata


def search_vector(*, title: str, text: str):
    """The stored tsvector of a document (PostgreSQL), from the new values: an UPDATE's SET sees the old row."""
    config = setting("SEARCH_CONFIG")
    return SearchVector(Value(title), config=config, weight="A") + SearchVector(
        Value(text[: setting("SEARCH_INDEX_CHARS")]), config=config, weight="B"
    )


def _finish(document: Document, status: str, *, started: float, error: str = "", **fields) -> None:
    """The outcome in one UPDATE: status, reason, detected type, text, metadata and search vector."""
    if connection.vendor == "postgresql" and "text" in fields:
        fields["search_vector"] = search_vector(title=fields.get("title", ""), text=fields["text"])
    Document.objects.filter(pk=document.pk).update(
        status=status,
        error=error[:5000],
        mime_type=document.mime_type,
        claimed_type=document.claimed_type,
        processed_at=timezone.now(),
        processing_seconds=round(time.monotonic() - started, 4),
        **fields,
    )


def document_process(*, document_id, job=None) -> dict:
    """Process one document end to end; raises DocumentRejected / DocumentFailed (permanent) on refusal."""
    started = time.monotonic()
    document = _claim(document_id, job)
    try:
        path, detected = _detect_and_check(document)
        extraction = run_isolated(path=path, mime_type=detected.mime_type, job=job)
    except Rejected as exc:
        _finish(document, S.REJECTED, started=started, error=str(exc))
        raise DocumentRejected(str(exc)) from None
    except ExtractionError as exc:
        _finish(document, S.FAILED, started=started, error=str(exc))
        raise DocumentFailed(str(exc)) from None
    except JobCancelled:
        _finish(document, S.FAILED, started=started, error="Processing was cancelled.")
        raise
    except Exception as exc:  # a database or broker error: the job retries; the row tells the truth meanwhile
        _finish(document, S.FAILED, started=started, error=f"{type(exc).__name__}: {exc}")
        raise
    metadata = _enrich(document, extraction)
    title = str(metadata.get("title") or "").strip() or document.original_name
    status = S.PARTIAL if extraction.failed_parts else S.PROCESSED
    error = (
        ("Some parts could not be read: " + "; ".join(extraction.failed_parts[:10])) if extraction.failed_parts else ""
    )
    _finish(
        document,
        status,
        started=started,
        error=error,
        text=extraction.text,
        metadata=metadata,
        page_count=extraction.page_count,
        title=title[:500],
    )
    return {
        "document_id": document.pk,
        "status": status,
        "mime_type": detected.mime_type,
        "characters": metadata["characters"],
        "pages": extraction.page_count,
    }


def document_extract_metadata(*, document_id, job=None) -> dict:
    """Only the metadata (no full text, no OCR): merged into the document's metadata, status untouched."""
    document = _get(document_id)
    try:
        path, detected = _detect_and_check(document)
        extraction = run_isolated(path=path, mime_type=detected.mime_type, metadata_only=True, job=job)
    except (Rejected, ExtractionError) as exc:
        raise DocumentFailed(str(exc)) from None
    metadata = {**document.metadata, **extraction.metadata}
    fields = {"metadata": metadata}
    if extraction.page_count is not None:
        fields["page_count"] = extraction.page_count
    if metadata.get("title") and not document.title:
        fields["title"] = str(metadata["title"])[:500]
    fields.update(mime_type=detected.mime_type, claimed_type=detected.claimed_type)
    Document.objects.filter(pk=document.pk).update(**fields)
    return {"document_id": document.pk, "mime_type": detected.mime_type, "metadata_keys": sorted(extraction.metadata)}


def batch_counts(batch_id) -> dict:
    """Documents of a batch by status, with how many are finished."""
    counts = {status.value: 0 for status in S}
    for status in Document.objects.filter(batch_id=batch_id).values_list("status", flat=True):
        counts[status] += 1
    total = sum(counts.values())
    finished = sum(counts[status] for status in FINISHED_STATUSES)
    return {"total": total, "finished": finished, **counts}


def batch_process(*, batch_id, job=None) -> dict:
    """Submit a job per waiting document of the batch, then follow them: progress = finished / total.

    The parent waits on a worker thread, so a worker pool serving the documents queue needs at
    least two threads (the default has eight).
    """
    try:
        batch = Batch.objects.get(pk=batch_id)
    except (Batch.DoesNotExist, ValueError):
        raise PermanentError(f"Batch {batch_id} does not exist.") from None
    parent_id = job.job_id if job is not None else None
    for document in batch.documents.filter(status=S.RECEIVED).order_by("pk"):
        document_submit(document=document, parent_id=parent_id)
    while True:
        counts = batch_counts(batch.pk)
        total, finished = counts["total"], counts["finished"]
        failed = counts[S.FAILED] + counts[S.REJECTED]
        percent = 100 if total == 0 else finished * 100 / total
        if job is not None:
            job.progress(
                min(percent, 99.9) if finished < total else 100, f"{finished}/{total} documents, {failed} failed"
            )
        if finished >= total:
            return {"batch_id": str(batch.pk), **counts, "duplicates": len(batch.duplicates)}
        time.sleep(BATCH_POLL_SECONDS)


def documents_cleanup(*, older_than_days: int | None = None, batch_size: int = 500) -> dict:
    """Delete finished documents (rows and stored files) processed before the retention window."""
    days = setting("RETENTION_DAYS") if older_than_days is None else older_than_days
    if days <= 0:
        return {"documents_deleted": 0, "bytes_freed": 0, "retention_days": days, "disabled": True}
    cutoff = timezone.now() - timedelta(days=days)
    deleted = freed = 0
    while True:
        rows = list(
            Document.objects.filter(status__in=FINISHED_STATUSES)
            .annotate(finished=Coalesce("processed_at", "created_at"))
            .filter(finished__lt=cutoff)
            .values_list("pk", "storage_name")[:batch_size]
        )
        if not rows:
            break
        for _, storage_name in rows:
            try:
                freed += storage.remove(storage_name)
            except ValueError:
                logger.warning("Skipping a stored name that is not ours: %r", storage_name)
        deleted += Document.objects.filter(pk__in=[pk for pk, _ in rows]).delete()[1].get(Document._meta.label, 0)
    empty_batches = Batch.objects.filter(created_at__lt=cutoff, documents__isnull=True).values_list("pk", flat=True)
    batches = Batch.objects.filter(pk__in=list(empty_batches)).delete()[0]
    return {"documents_deleted": deleted, "bytes_freed": freed, "batches_deleted": batches, "retention_days": days}
