from django.urls import path

from jobs.scheduling import apis

urlpatterns = [
    path("schedules", apis.ScheduleListApi.as_view(), name="schedule-list"),
    path("schedules/<int:schedule_id>", apis.ScheduleDetailApi.as_view(), name="schedule-detail"),
    path("schedules/<int:schedule_id>/pause", apis.SchedulePauseApi.as_view(), name="schedule-pause"),
    path("schedules/<int:schedule_id>/resume", apis.ScheduleResumeApi.as_view(), name="schedule-resume"),
    path("schedules/<int:schedule_id>/run", apis.ScheduleRunNowApi.as_view(), name="schedule-run"),
    path("schedules/<int:schedule_id>/runs", apis.ScheduleRunListApi.as_view(), name="schedule-runs"),
]
