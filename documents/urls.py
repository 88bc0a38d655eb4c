from django.urls import path

from documents import apis

urlpatterns = [
    path("documents", apis.DocumentListApi.as_view(), name="document-list"),
    path("documents/batches", apis.BatchListApi.as_view(), name="document-batch-list"),
    path("documents/batches/<str:batch_id>", apis.BatchDetailApi.as_view(), name="document-batch-detail"),
    path("documents/ledger", apis.LedgerListApi.as_view(), name="document-ledger"),
    path("documents/<int:document_id>", apis.DocumentDetailApi.as_view(), name="document-detail"),
    path("documents/<int:document_id>/text", apis.DocumentTextApi.as_view(), name="document-text"),
    path("documents/<int:document_id>/download", apis.DocumentDownloadApi.as_view(), name="document-download"),
    path("documents/<int:document_id>/reprocess", apis.DocumentReprocessApi.as_view(), name="document-reprocess"),
]
