"""Intake: store the bytes under their SHA-256, one document per distinct content, submit its job.

The same bytes uploaded twice are one document processed once: the second upload answers with
the existing document and submits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from documents import storage
from documents.models import Batch, Document, DocumentSource, DocumentStatus
from jobs.errors import InvalidTransition, NotFound
from jobs.models import LIVE_STATUSES, Job
from jobs.services import job_submit

PROCESS_ACTOR = "documents.process_document_file"
BATCH_ACTOR = "documents.process_document_batch"
METADATA_ACTOR = "documents.extract_document_metadata"
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class Received:
    document: Document
    created: bool  # False: the same bytes were already a document


@dataclass
class Upload:
    received: list[Received] = field(default_factory=list)
    batch: Batch | None = None


def display_name(name: str) -> str:
    """The name as shown: its last path component, without control characters, at most 255 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:MAX_NAME_LENGTH] or "unnamed"


def process_key(document_id: int) -> str:
    return f"documents.process:{document_id}"


def document_receive(
    *,
    stream,
    original_name: str,
    source: str = DocumentSource.UPLOAD,
    uploaded_by=None,
    source_path: str = "",
    batch: Batch | None = None,
    submit: bool = True,
    max_bytes: int | None = None,
) -> Received:
    """Store the stream and create its document, or find the document with the same bytes.

    Raises PayloadTooLarge past the size limit; nothing is created then.
    """
    stored = storage.store_stream(stream, max_bytes=max_bytes)
    return document_register(
        stored=stored,
        original_name=original_name,
        source=source,
        uploaded_by=uploaded_by,
        source_path=source_path,
        batch=batch,
        submit=submit,
    )


def document_register(
    *,
    stored: storage.Stored,
    original_name: str,
    source: str = DocumentSource.UPLOAD,
    uploaded_by=None,
    source_path: str = "",
    batch: Batch | None = None,
    submit: bool = True,
) -> Received:
    """The document of bytes already in storage: a new one (its job submitted) or the existing one."""
    existing = Document.objects.filter(sha256=stored.sha256).first()
    if existing is not None:
        return Received(existing, False)
    try:
        # Row, job and link commit together: one commit (and one message on commit) per document.
        with transaction.atomic():
            document = Document.objects.create(
                original_name=display_name(original_name),
                sha256=stored.sha256,
                size=stored.size,
                storage_name=stored.storage_name,
                source=source,
                uploaded_by=uploaded_by if uploaded_by is not None and uploaded_by.is_authenticated else None,
                source_path=source_path[:1024],
                batch=batch,
            )
            if submit:
                document_submit(document=document)
    except IntegrityError:  # the same bytes arrived concurrently: that one won
        return Received(Document.objects.get(sha256=stored.sha256), False)
    return Received(document, True)


def document_submit(*, document: Document, parent_id=None, metadata_only: bool = False) -> Job:
    """Submit the document's processing job; a live one is returned instead of a second."""
    if metadata_only:
        return job_submit(actor_name=METADATA_ACTOR, args=[document.pk]).job
    submitted = job_submit(
        actor_name=PROCESS_ACTOR, args=[document.pk], idempotency_key=process_key(document.pk), parent_id=parent_id
    )
    Document.objects.filter(pk=document.pk).update(job=submitted.job)
    document.job = submitted.job
    return submitted.job


def batch_create(*, source: str, created_by=None, folder: str = "") -> Batch:
    return Batch.objects.create(
        source=source,
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        folder=folder[:1024],
    )


def batch_add(batch: Batch, received: Received, name: str) -> None:
    """Count a file in the batch; a duplicate is listed with the document it matched."""
    batch.file_count += 1
    if not received.created:
        batch.duplicates.append({"name": display_name(name), "document_id": received.document.pk})


def batch_submit(*, batch: Batch) -> Job:
    """Save the batch's counts and submit its parent job, which submits and follows one job per document."""
    submitted = job_submit(actor_name=BATCH_ACTOR, args=[str(batch.pk)], idempotency_key=f"documents.batch:{batch.pk}")
    batch.job = submitted.job
    batch.save(update_fields=["file_count", "duplicates", "job"])
    return submitted.job


def documents_upload(*, files, uploaded_by=None) -> Upload:
    """One file: its document (and job). Several: one batch with a parent job, all or nothing.

    ``files`` holds (stream, name) pairs. Raises PayloadTooLarge for a file over the limit.
    """
    files = list(files)
    if len(files) == 1:
        stream, name = files[0]
        return Upload(received=[document_receive(stream=stream, original_name=name, uploaded_by=uploaded_by)])
    upload = Upload()
    with transaction.atomic():
        upload.batch = batch_create(source=DocumentSource.UPLOAD, created_by=uploaded_by)
        for stream, name in files:
            received = document_receive(
                stream=stream, original_name=name, uploaded_by=uploaded_by, batch=upload.batch, submit=False
            )
            batch_add(upload.batch, received, name)
            upload.received.append(received)
        batch_submit(batch=upload.batch)
    return upload


def document_reprocess(*, document_id, metadata_only: bool = False) -> Job:
    """Process a document again (or only read its metadata); 409 while it is being processed."""
    try:
        document = Document.objects.get(pk=document_id)
    except (Document.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Document {document_id} does not exist.") from None
    live = Job.objects.filter(idempotency_key=process_key(document.pk), status__in=LIVE_STATUSES).first()
    if live is not None:
        raise InvalidTransition(
            f"Document {document.pk} is being processed (job {live.pk} is {live.status}); try again when it ends.",
            details={"job_id": str(live.pk)},
        )
    if not metadata_only:
        Document.objects.filter(pk=document.pk).exclude(status=DocumentStatus.PROCESSING).update(
            status=DocumentStatus.RECEIVED, error=""
        )
    return document_submit(document=document, metadata_only=metadata_only)
