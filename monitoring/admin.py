"""Admin of the monitoring app: policies and rules editable (through the services' validation),
violations, events and scans read-only (their status changes only through services and scans)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from jobs.errors import ValidationFailed
from monitoring import services
from monitoring.models import Policy, Record, Rule, ScanRun, Violation, ViolationEvent, Waiver


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = ("field", "operator", "value", "value_type", "enabled", "source_sentence")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "severity", "enabled", "version", "scanned_version", "updated_at")
    list_filter = ("severity", "enabled")
    search_fields = ("name", "description")
    readonly_fields = ("version", "scanned_version", "scanned_day")
    inlines = [RuleInline]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("id", "policy", "field", "operator", "value", "value_type", "enabled")
    list_filter = ("enabled", "operator", "policy")
    list_select_related = ("policy",)
    readonly_fields = ("source_sentence", "source_start", "source_end", "confirmed_at")

    def save_model(self, request, obj, form, change):
        """Through the services: the same validation as the API, and the policy's version moves."""
        values = {name: getattr(obj, name) for name in services.RULE_FIELDS}
        try:
            if change:
                services.rule_update(rule_id=obj.pk, **values)
            else:
                obj.pk = services.rule_create(policy_id=obj.policy_id, **values).pk
        except ValidationFailed as exc:
            raise ValidationError(exc.message) from None


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ("source", "external_id", "updated_at", "deleted_at")
    list_filter = ("source",)
    search_fields = ("external_id",)
    readonly_fields = ("created_at", "updated_at", "deleted_at")


class EventInline(admin.TabularInline):
    model = ViolationEvent
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "at", "scan", "user", "note")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdmin):
    list_display = ("id", "policy", "rule_id", "record", "status", "first_seen", "reopened_count")
    list_filter = ("status", "policy__severity", "policy")
    list_select_related = ("policy", "record")
    inlines = [EventInline]


@admin.register(ViolationEvent)
class ViolationEventAdmin(ReadOnlyAdmin):
    list_display = ("violation_id", "from_status", "to_status", "at", "scan_id", "user")
    list_filter = ("to_status",)


class WaiverForm(forms.ModelForm):
    class Meta:
        model = Waiver
        fields = ("policy", "rule", "record", "condition", "reason", "owner", "expires_at", "created_by")

    def clean_condition(self):
        """The services' check: a condition no read can compile would fail every list of violations."""
        try:
            return services.waiver_condition(self.cleaned_data.get("condition"))
        except ValidationFailed as exc:
            raise ValidationError(exc.message) from None


@admin.register(Waiver)
class WaiverAdmin(admin.ModelAdmin):
    form = WaiverForm
    list_display = ("id", "policy", "rule", "record", "owner", "expires_at", "reason")
    list_select_related = ("policy", "rule", "record")


@admin.register(ScanRun)
class ScanRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "mode",
        "policy",
        "status",
        "started_at",
        "records_scanned",
        "violations_opened",
        "duration_ms",
    )
    list_filter = ("mode", "status")
