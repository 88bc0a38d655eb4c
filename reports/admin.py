"""Read-only admin pages for reports and stores; reports are created through the API or the dashboard."""

from django.contrib import admin

from reports.models import Report, Store, StoreHours


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "status", "requested_by", "row_count", "created_at", "finished_at")
    list_filter = ("kind", "status")
    list_select_related = ("requested_by",)
    search_fields = ("=id",)
    readonly_fields = [f.name for f in Report._meta.fields]
    ordering = ("-created_at", "-id")


class StoreHoursInline(admin.TabularInline):
    model = StoreHours
    extra = 0
    can_delete = False
    fields = ("day_of_week", "start_time_local", "end_time_local")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(ReadOnlyAdmin):
    list_display = ("store_id", "timezone_str")
    search_fields = ("=store_id",)
    show_full_result_count = False
    readonly_fields = ("store_id", "timezone_str")
    inlines = [StoreHoursInline]

    def has_delete_permission(self, request, obj=None):
        return False  # a store's polls go with it: deleting is not a page click
