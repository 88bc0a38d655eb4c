"""Input and output shapes of the documents API."""

from rest_framework import serializers

from config.api_fields import AwareDateTimeField, QueryInput, StrictBooleanField
from documents.models import DocumentSource, DocumentStatus, LedgerState

MAX_PAGE_SIZE = 200


class PageNumberInput(QueryInput):
    """Numbered pages (search results are ordered by rank, which a cursor cannot follow)."""

    page = serializers.IntegerField(required=False, min_value=1, help_text="Past the last page: 404.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)


class DocumentFilterInput(PageNumberInput):
    status = serializers.MultipleChoiceField(choices=DocumentStatus.choices, required=False)
    type = serializers.CharField(required=False, max_length=127, help_text="Detected MIME type")
    created_after = AwareDateTimeField(required=False)
    created_before = AwareDateTimeField(required=False)
    batch = serializers.UUIDField(required=False)
    search = serializers.CharField(required=False, max_length=500, help_text="Full-text search (web syntax)")

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            data = {**data.dict(), "status": data.getlist("status")} if "status" in data else data.dict()
        return super().to_internal_value(data)


class DocumentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    title = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    mime_type = serializers.CharField()
    claimed_type = serializers.CharField()
    status = serializers.ChoiceField(choices=DocumentStatus.choices)
    page_count = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    processing_seconds = serializers.FloatField(allow_null=True)
    source = serializers.ChoiceField(choices=DocumentSource.choices)
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True, default=None)
    batch_id = serializers.UUIDField(allow_null=True)
    job_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)


class DocumentSearchOutput(DocumentOutput):
    snippet = serializers.CharField(
        required=False, help_text="With `search` only. HTML: the document's words escaped, matches in <mark>"
    )


class DocumentDetailOutput(DocumentOutput):
    metadata = serializers.JSONField()
    source_path = serializers.CharField()
    text_characters = serializers.SerializerMethodField()
    job_status = serializers.CharField(source="job.status", allow_null=True, default=None)
    job_attempts = serializers.IntegerField(source="job.attempts", allow_null=True, default=None)

    def get_text_characters(self, document) -> int:
        return len(document.text)


class UploadedDocumentOutput(DocumentOutput):
    duplicate = serializers.BooleanField(help_text="The same bytes were already this document; nothing was submitted")


class DocumentTextOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    characters = serializers.IntegerField()
    text = serializers.CharField()


class ReprocessInput(serializers.Serializer):
    metadata_only = StrictBooleanField(default=False, help_text="Only read the metadata (no text, no OCR)")


class JobRefOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    actor = serializers.CharField()
    status = serializers.CharField()


class BatchOutput(serializers.Serializer):
    id = serializers.UUIDField()
    source = serializers.CharField()
    folder = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    file_count = serializers.IntegerField()
    duplicates = serializers.JSONField()
    job_id = serializers.UUIDField(allow_null=True)
    job_status = serializers.CharField(source="job.status", allow_null=True, default=None)
    job_progress = serializers.IntegerField(source="job.progress", allow_null=True, default=None)
    documents = serializers.IntegerField(source="total")
    finished = serializers.IntegerField()
    processed = serializers.IntegerField()
    failed = serializers.IntegerField()
    percent = serializers.SerializerMethodField()

    def get_percent(self, batch) -> float:
        return round(100.0 * batch.finished / batch.total, 1) if batch.total else 100.0


class UploadOutput(serializers.Serializer):
    batch = BatchOutput(allow_null=True)
    documents = UploadedDocumentOutput(many=True)


class LedgerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    folder = serializers.CharField()
    path = serializers.CharField()
    state = serializers.ChoiceField(choices=LedgerState.choices)
    reason = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    document_id = serializers.IntegerField(allow_null=True)
    document_status = serializers.CharField(source="document.status", allow_null=True, default=None)
    moved_from = serializers.CharField()
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    ingested_at = serializers.DateTimeField(allow_null=True)


class LedgerFilterInput(PageNumberInput):
    state = serializers.ChoiceField(choices=LedgerState.choices, required=False)


class _NumberedPage(serializers.Serializer):
    count = serializers.IntegerField(help_text="Matches in all pages.")
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")


class DocumentPageOutput(_NumberedPage):
    results = DocumentSearchOutput(many=True)


class BatchPageOutput(_NumberedPage):
    results = BatchOutput(many=True)


class LedgerPageOutput(_NumberedPage):
    results = LedgerOutput(many=True)
