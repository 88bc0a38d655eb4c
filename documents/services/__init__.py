"""Writes of the documents app: intake (store, dedupe, batch, submit), processing, cleanup, the ledger."""

from documents.services.intake import (  # noqa: F401
    BATCH_ACTOR,
    METADATA_ACTOR,
    PROCESS_ACTOR,
    Received,
    Upload,
    batch_create,
    batch_submit,
    document_receive,
    document_reprocess,
    document_submit,
    documents_upload,
)
from documents.services.processing import (  # noqa: F401
    batch_process,
    document_extract_metadata,
    document_process,
    documents_cleanup,
)
