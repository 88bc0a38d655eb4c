"""Reads of the documents app for pages and the API: lists with filters, full-text search, batches, the ledger.

Search uses the stored tsvector (GIN index) on PostgreSQL, ranked, with ``ts_headline`` snippets;
on SQLite every word must occur in the title or text and the snippet is cut around the first hit.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Left
from django.utils.html import escape

from documents.models import FINISHED_STATUSES, Batch, Document, DocumentStatus, WatchedFile

# Markers no document contains, turned into <mark> after the snippet is HTML-escaped.
START, STOP = "\x02", "\x03"
LIST_FIELDS = (
    "id",
    "original_name",
    "title",
    "sha256",
    "size",
    "mime_type",
    "claimed_type",
    "status",
    "page_count",
    "error",
    "processing_seconds",
    "source",
    "batch_id",
    "job_id",
    "created_at",
    "processed_at",
    "uploaded_by__username",
)


def _config() -> str:
    return settings.DOCUMENTS["SEARCH_CONFIG"]


def document_list(
    *,
    status=None,
    mime_type: str | None = None,
    created_after=None,
    created_before=None,
    batch=None,
    search: str | None = None,
) -> QuerySet:
    """Documents, newest first or best match first when searching; the text itself is not loaded."""
    queryset = Document.objects.select_related("uploaded_by").defer("text", "metadata", "search_vector")
    if status:
        queryset = queryset.filter(status__in=[status] if isinstance(status, str) else status)
    if mime_type:
        queryset = queryset.filter(mime_type=mime_type)
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    if batch:
        queryset = queryset.filter(batch_id=batch)
    search = (search or "").strip()
    if not search:
        return queryset.order_by("-created_at", "-id")
    if connection.vendor == "postgresql":
        query = SearchQuery(search, search_type="websearch", config=_config())
        return (
            queryset.filter(search_vector=query)
            .annotate(
                rank=SearchRank(F("search_vector"), query),
                headline=SearchHeadline(
                    Left("text", settings.DOCUMENTS["SEARCH_INDEX_CHARS"]),
                    query,
                    config=_config(),
                    start_sel=START,
                    stop_sel=STOP,
                    max_fragments=2,
                    max_words=25,
                    min_words=10,
                    fragment_delimiter=" … ",
                ),
            )
            .order_by("-rank", "-created_at", "-id")
        )
    condition = Q()
    for word in search.split()[:10]:
        condition &= Q(text__icontains=word) | Q(title__icontains=word) | Q(original_name__icontains=word)
    return queryset.filter(condition).annotate(headline=Left("text", 2000)).order_by("-created_at", "-id")


def snippet_html(document, search: str) -> str:
    """The search snippet as safe HTML: the document's words escaped, the matches in <mark>."""
    headline = getattr(document, "headline", None) or ""
    if connection.vendor != "postgresql" and headline:
        headline = _plain_snippet(headline, search)
    text = escape(headline)
    return text.replace(START, "<mark>").replace(STOP, "</mark>")


def _plain_snippet(text: str, search: str, *, width: int = 160) -> str:
    words = [re.escape(word) for word in search.split()[:10] if word]
    if not words:
        return text[:width]
    pattern = re.compile("|".join(words), re.IGNORECASE)
    match = pattern.search(text)
    start = max(match.start() - width // 2, 0) if match else 0
    window = text[start : start + width]
    return pattern.sub(lambda m: f"{START}{m.group(0)}{STOP}", window)


def document_get(document_id) -> Document | None:
    try:
        return Document.objects.select_related("uploaded_by", "batch", "job").get(pk=int(document_id))
    except (Document.DoesNotExist, ValueError, TypeError):
        return None


def document_types() -> list[str]:
    return list(Document.objects.exclude(mime_type="").values_list("mime_type", flat=True).distinct().order_by())


def status_counts() -> dict:
    counts = {status.value: 0 for status in DocumentStatus}
    for row in Document.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


@dataclass(frozen=True)
class BatchProgress:
    total: int
    finished: int
    failed: int
    processed: int
    percent: float

    @property
    def done(self) -> bool:
        return self.finished >= self.total


def _annotate_progress(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        total=Count("documents"),
        finished=Count("documents", filter=Q(documents__status__in=FINISHED_STATUSES)),
        failed=Count("documents", filter=Q(documents__status__in=[DocumentStatus.FAILED, DocumentStatus.REJECTED])),
        processed=Count(
            "documents", filter=Q(documents__status__in=[DocumentStatus.PROCESSED, DocumentStatus.PARTIAL])
        ),
    )


def batch_progress(batch) -> BatchProgress:
    total = batch.total
    return BatchProgress(
        total=total,
        finished=batch.finished,
        failed=batch.failed,
        processed=batch.processed,
        percent=round(100.0 * batch.finished / total, 1) if total else 100.0,
    )


def batch_list() -> QuerySet:
    return _annotate_progress(Batch.objects.select_related("created_by", "job")).order_by("-created_at", "-id")


def batch_get(batch_id) -> Batch | None:
    try:
        return batch_list().get(pk=uuid.UUID(str(batch_id)))
    except (Batch.DoesNotExist, ValueError):
        return None


def ledger_list(*, state: str | None = None, folder: str | None = None) -> QuerySet:
    queryset = WatchedFile.objects.select_related("document").order_by("folder", "path")
    if state:
        queryset = queryset.filter(state=state)
    if folder:
        queryset = queryset.filter(folder=folder)
    return queryset


def ledger_counts() -> dict:
    return {row["state"]: row["n"] for row in WatchedFile.objects.values("state").annotate(n=Count("id")).order_by()}
