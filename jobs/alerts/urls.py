from django.urls import path

from jobs.alerts import apis

urlpatterns = [
    path("alerts", apis.AlertListApi.as_view(), name="alert-list"),
    path("alerts/<int:alert_id>", apis.AlertDetailApi.as_view(), name="alert-detail"),
    path("alert-rules", apis.AlertRuleListApi.as_view(), name="alert-rule-list"),
    path("alert-rules/<int:rule_id>", apis.AlertRuleDetailApi.as_view(), name="alert-rule-detail"),
]
