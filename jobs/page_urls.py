from django.contrib.auth import views as auth_views
from django.urls import path

from jobs import views
from jobs.metrics import views as metric_views

app_name = "jobs"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("jobs/", views.job_list, name="list"),
    path("jobs/bulk", views.jobs_bulk, name="bulk"),
    path("jobs/<str:job_id>/", views.job_detail, name="detail"),
    path("jobs/<str:job_id>/retry", views.job_retry, name="retry"),
    path("jobs/<str:job_id>/cancel", views.job_cancel, name="cancel"),
    path("dead-letters/", views.dead_letters, name="dead_letters"),
    path("dead-letters/action", views.dead_letters_action, name="dead_letters_action"),
    path("schedules/", views.schedules, name="schedules"),
    path("schedules/<int:schedule_id>/action", views.schedule_action, name="schedule_action"),
    path("workers/", views.workers, name="workers"),
    path("charts/", metric_views.metrics_page, name="metrics"),
    path("health/", views.system_health, name="health"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="jobs:login"), name="logout"),
]
