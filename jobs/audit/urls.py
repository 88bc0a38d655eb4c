from django.urls import path

from jobs.audit import apis

urlpatterns = [
    path("audit", apis.AuditListApi.as_view(), name="audit-list"),
    path("audit.csv", apis.AuditExportApi.as_view(), name="audit-export"),
]
