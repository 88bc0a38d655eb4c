"""The documents app's tables: documents (one per distinct content), batches, and the watched-folder ledger.

A document's stored file is named after the SHA-256 of its bytes; the original file name is shown,
never used as a path. Status changes are conditional updates in ``documents.services``.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone


class DocumentStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    PARTIAL = "partial", "Partial (some parts failed)"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


FINISHED_STATUSES = (DocumentStatus.PROCESSED, DocumentStatus.PARTIAL, DocumentStatus.FAILED, DocumentStatus.REJECTED)


class DocumentSource(models.TextChoices):
    UPLOAD = "upload", "Upload"
    FOLDER = "folder", "Watched folder"
    IMPORT = "import", "Import command"


class Batch(models.Model):
    """Documents uploaded or ingested together; a parent job processes them and reports their progress."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=16, choices=DocumentSource.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    folder = models.CharField(max_length=1024, blank=True, default="", help_text="Watched or imported folder.")
    created_at = models.DateTimeField(default=timezone.now)
    file_count = models.PositiveIntegerField(default=0, help_text="Files received, duplicates included.")
    # Files that were already documents: listed, not processed again.
    duplicates = models.JSONField(default=list, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self):
        return f"batch {self.id} ({self.file_count} files)"


class Document(models.Model):
    original_name = models.CharField(max_length=255, help_text="As uploaded; shown, never used as a path.")
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    storage_name = models.CharField(max_length=80, help_text="Path inside the storage folder, from the SHA-256.")
    mime_type = models.CharField(max_length=127, blank=True, default="", help_text="Detected from the content.")
    claimed_type = models.CharField(max_length=127, blank=True, default="", help_text="What the extension says.")
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.RECEIVED)
    title = models.CharField(max_length=500, blank=True, default="")
    page_count = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    processing_seconds = models.FloatField(null=True, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    source = models.CharField(max_length=16, choices=DocumentSource.choices, default=DocumentSource.UPLOAD)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_path = models.CharField(max_length=1024, blank=True, default="", help_text="Where a folder file was.")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents")

    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # PostgreSQL only (a tsvector with a GIN index, see migration 0002); SQLite searches the text.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="document_created_idx"),
            models.Index(fields=["status", "-created_at"], name="document_status_idx"),
            models.Index(fields=["mime_type", "-created_at"], name="document_type_idx"),
            models.Index(fields=["status", "processed_at"], name="document_processed_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in DocumentStatus]), name="document_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.original_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class LedgerState(models.TextChoices):
    WAITING = "waiting", "Waiting to settle"
    INGESTED = "ingested", "Ingested"
    DUPLICATE = "duplicate", "Duplicate"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"
    GONE = "gone", "Gone before ingest"


# States after which the same file (same path, size, mtime, inode) is never looked at again.
SETTLED_LEDGER_STATES = (LedgerState.INGESTED, LedgerState.DUPLICATE, LedgerState.REJECTED, LedgerState.FAILED)


class WatchedFile(models.Model):
    """One file seen in a watched folder, and why it was or was not ingested."""

    folder = models.CharField(max_length=1024)
    path = models.CharField(max_length=1024, help_text="Relative to the folder.")
    state = models.CharField(max_length=16, choices=LedgerState.choices, default=LedgerState.WAITING)
    reason = models.TextField(blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    mtime_ns = models.BigIntegerField(default=0)
    inode = models.PositiveBigIntegerField(default=0)
    device = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    moved_from = models.CharField(max_length=1024, blank=True, default="")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["folder", "path"]
        constraints = [models.UniqueConstraint(fields=["folder", "path"], name="watched_file_path_uniq")]
        indexes = [models.Index(fields=["device", "inode"], name="watched_file_inode_idx")]

    def __str__(self):
        return f"{self.folder}/{self.path} ({self.state})"
