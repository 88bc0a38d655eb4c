from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("scan", views.scan_now, name="scan_now"),
    path("violations/", views.violation_list, name="violations"),
    path("violations/bulk", views.violations_bulk, name="violations_bulk"),
    path("violations/<int:violation_id>/", views.violation_detail, name="violation"),
    path("violations/<int:violation_id>/action", views.violation_action, name="violation_action"),
    path("policies/<int:policy_id>/", views.policy_detail, name="policy"),
    path("policies/<int:policy_id>/extract", views.extract_rules, name="extract_rules"),
    path("rules/<int:rule_id>/preview", views.rule_preview, name="rule_preview"),
    path("rules/<int:rule_id>/toggle", views.rule_toggle, name="rule_toggle"),
]
