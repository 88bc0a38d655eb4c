"""Read-only admin pages for documents, batches and the watched-folder ledger (writes go through services)."""

from django.contrib import admin

from documents.models import Batch, Document, WatchedFile


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("id", "original_name", "mime_type", "status", "size", "page_count", "source", "created_at")
    list_filter = ("status", "source", "mime_type")
    list_select_related = ("uploaded_by",)
    search_fields = ("=id", "original_name", "=sha256")
    exclude = ("search_vector",)
    readonly_fields = [f.name for f in Document._meta.fields if f.name != "search_vector"]
    show_full_result_count = False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "source", "file_count", "created_by", "created_at")
    list_filter = ("source",)
    list_select_related = ("created_by",)
    readonly_fields = [f.name for f in Batch._meta.fields]


@admin.register(WatchedFile)
class WatchedFileAdmin(ReadOnlyAdmin):
    list_display = ("path", "folder", "state", "reason", "size", "document", "last_seen_at")
    list_filter = ("state", "folder")
    list_select_related = ("document",)
    search_fields = ("path",)
    readonly_fields = [f.name for f in WatchedFile._meta.fields]
