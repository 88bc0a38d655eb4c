"""Admin of schedules: edits go through the services; the rule is shown in words with its next fire times."""

from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from jobs.errors import ApplicationError
from jobs.scheduling import selectors, services
from jobs.scheduling.forms import ScheduleForm as ScheduleAdminForm
from jobs.scheduling.models import Schedule, ScheduleRun


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleAdminForm
    list_display = ["name", "actor_name", "rule_in_words", "enabled", "next_run_at", "last_run_at", "last_job_status"]
    list_filter = ["enabled", "actor_name", "queue_name"]
    search_fields = ["name", "actor_name", "description"]
    list_select_related = ["last_job"]
    readonly_fields = [
        "rule_in_words",
        "next_five_fire_times",
        "last_run_at",
        "next_run_at",
        "last_job_link",
        "recent_runs",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled"]}),
        ("What runs", {"fields": ["actor_name", "args", "kwargs", "queue_name", "priority"]}),
        (
            "When",
            {"fields": ["cron", "interval_seconds", "timezone", "rule_in_words", "next_five_fire_times"]},
        ),
        ("Policies", {"fields": ["overlap", "misfire_grace_seconds", "coalesce"]}),
        (
            "Runs",
            {"fields": ["next_run_at", "last_run_at", "last_job_link", "recent_runs", "created_at", "updated_at"]},
        ),
    ]
    actions = ["pause_selected", "resume_selected", "run_selected_now"]

    @admin.display(description="Rule")
    def rule_in_words(self, schedule):
        return selectors.trigger_in_words(schedule) if schedule.pk else "-"

    @admin.display(description="Next five fire times (UTC)")
    def next_five_fire_times(self, schedule):
        if not schedule.pk:
            return "-"
        times = selectors.upcoming_fire_times(schedule, count=5)
        if not times:
            return "never"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((t.isoformat(),) for t in times)))

    @admin.display(description="Last job status", ordering="last_job__status")
    def last_job_status(self, schedule):
        return schedule.last_job.status if schedule.last_job_id else "-"

    @admin.display(description="Last job")
    def last_job_link(self, schedule):
        if not schedule.last_job_id:
            return "-"
        return _job_link(schedule.last_job_id, f"{schedule.last_job_id} ({schedule.last_job.status})")

    @admin.display(description="Recent runs")
    def recent_runs(self, schedule):
        if not schedule.pk:
            return "-"
        runs = selectors.schedule_runs(schedule.pk, limit=10)
        if not runs:
            return "none yet"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {} {}</li>",
                (
                    (run.fire_time.isoformat(), "(manual)" if run.manual else "", _job_link(run.job_id, run.job.status))
                    for run in runs
                ),
            ),
        )

    def save_model(self, request, obj, form, change):
        fields = {field: form.cleaned_data[field] for field in services.EDITABLE_FIELDS if field in form.cleaned_data}
        if change:
            saved = services.schedule_update(schedule_id=obj.pk, user=request.user, **fields)
        else:
            saved = services.schedule_create(user=request.user, **fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.schedule_delete(schedule_id=obj.pk, user=request.user)

    def delete_queryset(self, request, queryset):
        for schedule_id in queryset.values_list("pk", flat=True):
            services.schedule_delete(schedule_id=schedule_id, user=request.user)

    @admin.action(description="Pause selected schedules")
    def pause_selected(self, request, queryset):
        self._each(request, queryset, services.schedule_pause, "Paused")

    @admin.action(description="Resume selected schedules")
    def resume_selected(self, request, queryset):
        self._each(request, queryset, services.schedule_resume, "Resumed")

    @admin.action(description="Run selected schedules now")
    def run_selected_now(self, request, queryset):
        self._each(request, queryset, services.schedule_run_now, "Started")

    def _each(self, request, queryset, service, verb):
        done = 0
        for schedule_id, name in queryset.values_list("pk", "name"):
            try:
                service(schedule_id=schedule_id, user=request.user)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{name}: {exc.message}", level=messages.WARNING)
        if done:
            self.message_user(request, f"{verb} {done} schedule(s).")


@admin.register(ScheduleRun)
class ScheduleRunAdmin(admin.ModelAdmin):
    """Which fire time of which schedule produced which job (read-only: the scheduler writes these)."""

    list_display = ["schedule", "fire_time", "manual", "job_status", "created_at"]
    list_filter = ["manual", "schedule"]
    search_fields = ["schedule__name", "=job__id"]
    list_select_related = ["schedule", "job"]
    date_hierarchy = "fire_time"
    readonly_fields = ["schedule", "fire_time", "manual", "job", "created_at"]

    @admin.display(description="Job", ordering="job__status")
    def job_status(self, run):
        return _job_link(run.job_id, run.job.status)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _job_link(job_id, text):
    try:
        return format_html('<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[job_id]), text)
    except NoReverseMatch:
        return text
