from django.contrib.auth import views as auth_views
from django.urls import path

from jobs import views
from jobs.audit import views as audit_views
from jobs.bulk import views as bulk_views
from jobs.controls import views as control_views
from jobs.metrics import views as metric_views
from jobs.scheduling import views as schedule_views

app_name = "jobs"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("jobs/", views.job_list, name="list"),
    path("jobs/bulk", views.jobs_bulk, name="bulk"),
    path("jobs/submit/", views.job_submit, name="submit"),
    path("jobs/all/confirm", bulk_views.bulk_confirm, name="bulk_confirm"),
    path("jobs/all/apply", bulk_views.bulk_apply, name="bulk_apply"),
    path("jobs/<str:job_id>/", views.job_detail, name="detail"),
    path("jobs/<str:job_id>/retry", views.job_retry, name="retry"),
    path("jobs/<str:job_id>/cancel", views.job_cancel, name="cancel"),
    path("jobs/<str:job_id>/rerun", views.job_rerun, name="rerun"),
    path("dead-letters/", views.dead_letters, name="dead_letters"),
    path("dead-letters/action", views.dead_letters_action, name="dead_letters_action"),
    path("schedules/", views.schedules, name="schedules"),
    path("schedules/<int:schedule_id>/action", views.schedule_action, name="schedule_action"),
    path("schedules/new", schedule_views.schedule_edit, name="schedule_new"),
    path("schedules/<int:schedule_id>/edit", schedule_views.schedule_edit, name="schedule_edit"),
    path("audit/", audit_views.audit, name="audit"),
    path("workers/", views.workers, name="workers"),
    path("queues/", control_views.queues, name="queues"),
    path("queues/<str:queue_name>/action", control_views.queue_action, name="queue_action"),
    path("queues/actors/<str:actor_name>/limits", control_views.actor_limits, name="actor_limits"),
    path("charts/", metric_views.metrics_page, name="metrics"),
    path("health/", views.system_health, name="health"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="jobs:login"), name="logout"),
]
