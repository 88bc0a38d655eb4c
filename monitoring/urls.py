from django.urls import path

from monitoring import apis

ACTIONS = ("acknowledge", "resolve", "mute", "reopen")

urlpatterns = [
    path("monitoring/status", apis.StatusApi.as_view(), name="monitoring-status"),
    path("monitoring/scan", apis.ScanApi.as_view(), name="monitoring-scan"),
    path("monitoring/jobs", apis.ScanJobsApi.as_view(), name="monitoring-jobs"),
    path("monitoring/scans", apis.ScanRunListApi.as_view(), name="monitoring-scans"),
    path("monitoring/health", apis.HealthApi.as_view(), name="monitoring-health"),
    path("monitoring/policies", apis.PolicyListApi.as_view(), name="monitoring-policies"),
    path("monitoring/policies/<int:policy_id>", apis.PolicyDetailApi.as_view(), name="monitoring-policy"),
    path(
        "monitoring/policies/<int:policy_id>/extract_rules",
        apis.ExtractRulesApi.as_view(),
        name="monitoring-extract-rules",
    ),
    path("monitoring/rules", apis.RuleListApi.as_view(), name="monitoring-rules"),
    path("monitoring/rules/<int:rule_id>", apis.RuleDetailApi.as_view(), name="monitoring-rule"),
    path("monitoring/rules/<int:rule_id>/preview", apis.RulePreviewApi.as_view(), name="monitoring-rule-preview"),
    path("monitoring/violations", apis.ViolationListApi.as_view(), name="monitoring-violations"),
    path("monitoring/violations/bulk", apis.ViolationBulkApi.as_view(), name="monitoring-violations-bulk"),
    path("monitoring/violations/<int:violation_id>", apis.ViolationDetailApi.as_view(), name="monitoring-violation"),
    path(
        "monitoring/violations/<int:violation_id>/events",
        apis.ViolationEventsApi.as_view(),
        name="monitoring-violation-events",
    ),
    *[
        path(
            f"monitoring/violations/<int:violation_id>/{action}",
            (apis.ViolationMuteApi if action == "mute" else apis.ViolationActionApi).as_view(action=action),
            name=f"monitoring-violation-{action}",
        )
        for action in ACTIONS
    ],
    path("monitoring/waivers", apis.WaiverListApi.as_view(), name="monitoring-waivers"),
    path("monitoring/waivers/<int:waiver_id>", apis.WaiverDetailApi.as_view(), name="monitoring-waiver"),
    path("monitoring/records", apis.RecordListApi.as_view(), name="monitoring-records"),
    path("monitoring/records/upload", apis.RecordUploadApi.as_view(), name="monitoring-records-upload"),
    path("monitoring/records/<int:record_id>", apis.RecordDetailApi.as_view(), name="monitoring-record"),
]
