"""Controls in the admin: read-only, since every change must be audited (use the Queues page,
the API or ``manage.py queue_control``)."""

from django.contrib import admin

from jobs.controls.models import ActorControl, QueueControl


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(QueueControl)
class QueueControlAdmin(_ReadOnly):
    list_display = [
        "queue_name",
        "paused",
        "max_concurrency",
        "rate_limit",
        "rate_period",
        "ready_window",
        "updated_at",
    ]
    list_filter = ["paused"]


@admin.register(ActorControl)
class ActorControlAdmin(_ReadOnly):
    list_display = ["actor_name", "max_concurrency", "rate_limit", "rate_period", "updated_at"]
    search_fields = ["actor_name"]
