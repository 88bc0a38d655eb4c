"""A read-only job admin whose actions only offer the state machine's transitions."""

from django.contrib import admin, messages
from django.utils.html import format_html

from jobs import services
from jobs.errors import InvalidTransition
from jobs.models import Job, JobAttempt, JobStatus, Worker, WorkerHost


class JobAttemptInline(admin.TabularInline):
    model = JobAttempt
    extra = 0
    can_delete = False
    fields = ("number", "outcome", "worker_id", "started_at", "finished_at", "error_type", "error_message")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "short_id",
        "actor_name",
        "queue_name",
        "status_badge",
        "attempts",
        "progress",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "queue_name", "actor_name")
    search_fields = ("=id", "actor_name", "idempotency_key", "error_message")
    date_hierarchy = "created_at"
    list_select_related = ("parent",)
    show_full_result_count = False  # no COUNT(*) over a million rows per page
    ordering = ("-created_at", "-id")
    inlines = [JobAttemptInline]
    actions = ["retry_jobs", "cancel_jobs", "purge_failed_jobs"]
    readonly_fields = [f.name for f in Job._meta.fields]

    @admin.display(description="id", ordering="id")
    def short_id(self, obj):
        # The full UUID wrapped onto five lines of the list; the first 8 characters tell jobs apart.
        return format_html('<code title="{}" style="white-space:nowrap">{}</code>', obj.pk, str(obj.pk)[:8])

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colour = {JobStatus.SUCCEEDED: "green", JobStatus.FAILED: "#c53030", JobStatus.RUNNING: "#2b6cb0"}.get(
            obj.status, "#555"
        )
        return format_html('<b style="color:{}">{}</b>', colour, obj.get_status_display())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # views only; state changes go through the actions

    @admin.action(description="Retry selected failed or cancelled jobs", permissions=["retry"])
    def retry_jobs(self, request, queryset):
        try:
            count = services.jobs_retry_bulk(queryset, user=request.user, detail={"via": "admin"})
        except InvalidTransition as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"Retried {count} job(s).", messages.SUCCESS)

    @admin.action(description="Cancel selected waiting or running jobs", permissions=["retry"])
    def cancel_jobs(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = services.jobs_cancel_bulk(ids, user=request.user)
        refused = len(ids) - done
        self.message_user(request, f"Cancelled {done} job(s); {refused} had already finished.", messages.INFO)

    @admin.action(description="Purge selected failed (dead) jobs", permissions=["retry"])
    def purge_failed_jobs(self, request, queryset):
        count = services.jobs_purge_failed(queryset, user=request.user, detail={"via": "admin"})
        self.message_user(request, f"Purged {count} failed job(s); jobs in other states were kept.", messages.INFO)

    def has_retry_permission(self, request):
        return request.user.is_staff


@admin.register(JobAttempt)
class JobAttemptAdmin(admin.ModelAdmin):
    """Every failed or lost attempt, searchable by job and error (read-only)."""

    list_display = ("job", "number", "outcome", "error_type", "worker_id", "finished_at")
    list_filter = ("outcome", "error_type")
    search_fields = ("=job__id", "error_type", "error_message", "worker_id")
    list_select_related = ("job",)
    show_full_result_count = False
    ordering = ("-finished_at",)
    readonly_fields = [f.name for f in JobAttempt._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WorkerHost)
class WorkerHostAdmin(admin.ModelAdmin):
    list_display = ("id", "hostname", "pid", "processes", "threads", "started_at", "heartbeat_at", "stopped_at")
    search_fields = ("id", "hostname")
    readonly_fields = [f.name for f in WorkerHost._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "host",
        "queues",
        "threads",
        "started_at",
        "heartbeat_at",
        "stopped_at",
        "stop_reason",
        "running_jobs",
        "jobs_succeeded",
        "jobs_failed",
    )
    list_filter = ("hostname",)
    search_fields = ("id", "hostname")
    readonly_fields = [f.name for f in Worker._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


import jobs.scheduling.admin  # noqa
import jobs.alerts.admin  # noqa

# django_dramatiq registers its own Task model; the platform never writes it (jobs live in Job rows),
# so its empty list only misleads.
from django_dramatiq.models import Task  # noqa: E402

if admin.site.is_registered(Task):
    admin.site.unregister(Task)
import jobs.controls.admin  # noqa
