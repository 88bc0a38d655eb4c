"""The documents app's actors, on queue "documents": thin, they take ids and call a service.

All internal: documents are processed through uploads, the folder watcher and reprocessing (which
write the document and keep one live job per document); the clean-up runs on its built-in schedule
(its retention deletes documents: its arguments are the platform's to choose).
"""

from documents import services
from documents.errors import DocumentFailed, DocumentRejected
from jobs.context import current_job
from jobs.registry import INTERNAL, job_actor
from jobs.retry import Fixed

# The extraction's own wall-clock limit (DOCUMENTS_EXTRACTION_TIMEOUT, 240 s) stays under these.
PROCESS_SOFT_LIMIT = 280
PROCESS_TIME_LIMIT = 300


@job_actor(
    actor_name=services.PROCESS_ACTOR,
    queue_name="documents",
    retry=Fixed(max_retries=2, min_delay=10),
    soft_time_limit=PROCESS_SOFT_LIMIT,
    time_limit=PROCESS_TIME_LIMIT,
    permanent=(DocumentRejected, DocumentFailed),
    abortable=True,
    visibility=INTERNAL,
)
def process_document_file(document_id: int):
    """Detects a document's type, extracts its text and metadata in an isolated child, makes it searchable."""
    return services.document_process(document_id=document_id, job=current_job())


@job_actor(
    actor_name=services.BATCH_ACTOR,
    queue_name="documents",
    retry=Fixed(max_retries=1, min_delay=10),
    soft_time_limit=6 * 3600,
    time_limit=6 * 3600 + 60,
    abortable=True,
    visibility=INTERNAL,
)
def process_document_batch(batch_id: str):
    """Submits one job per document of a batch and follows them; its progress aggregates theirs."""
    return services.batch_process(batch_id=batch_id, job=current_job())


@job_actor(
    actor_name=services.METADATA_ACTOR,
    queue_name="documents",
    retry=Fixed(max_retries=2, min_delay=10),
    soft_time_limit=100,
    time_limit=120,
    permanent=(DocumentRejected, DocumentFailed),
    visibility=INTERNAL,
)
def extract_document_metadata(document_id: int):
    """Reads a document's metadata only (no full text, no OCR)."""
    return services.document_extract_metadata(document_id=document_id, job=current_job())


@job_actor(
    actor_name="documents.cleanup_old_processed_files",
    queue_name="documents",
    retry=Fixed(max_retries=2, min_delay=300),
    soft_time_limit=1800,
    time_limit=1900,
    visibility=INTERNAL,
)
def cleanup_old_processed_files(older_than_days: int | None = None):
    """Deletes stored files and rows of documents processed before the retention window."""
    return services.documents_cleanup(older_than_days=older_than_days)
