from django.urls import path

from reports import apis

urlpatterns = [
    path("reports", apis.ReportListApi.as_view(), name="report-list"),
    path("reports/trigger", apis.ReportTriggerApi.as_view(), name="report-trigger"),
    path("reports/status", apis.ReportStatusApi.as_view(), name="report-status"),
    path("reports/store-data", apis.StoreDataUploadApi.as_view(), name="report-store-data"),
    path("reports/<str:report_id>/download", apis.ReportDownloadApi.as_view(), name="report-download"),
    path("reports/<str:report_id>/metadata", apis.ReportMetadataApi.as_view(), name="report-metadata"),
]
