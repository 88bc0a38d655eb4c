from django.urls import path

from jobs.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alerts, name="index"),
    path("rules/<int:rule_id>", views.rule_update, name="rule_update"),
]
