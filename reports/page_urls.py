from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_list, name="list"),
    path("trigger", views.report_trigger, name="trigger"),
    path("<str:report_id>/", views.report_detail, name="detail"),
]
