"""Admin of alerts: rules are edited through the services' checks; alerts and notifications are read-only."""

from django import forms
from django.contrib import admin

from jobs.alerts import services
from jobs.alerts.models import Alert, AlertNotification, AlertRule
from jobs.audit.services import audit_record
from jobs.errors import ApplicationError


class AlertRuleAdminForm(forms.ModelForm):
    # Checked by the services (http or https only); a plain field keeps Django's scheme guessing out.
    webhook_url = forms.CharField(required=False, max_length=500)

    class Meta:
        model = AlertRule
        fields = ["name", "kind", "description", "enabled", "parameters", "email_recipients", "webhook_url"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        changes = {field: cleaned.get(field) for field in ("parameters", "email_recipients", "webhook_url")}
        changes["parameters"] = changes["parameters"] or {}
        changes["email_recipients"] = changes["email_recipients"] or []
        changes["webhook_url"] = changes["webhook_url"] or ""
        try:
            cleaned.update(services.alert_rule_clean(kind=cleaned["kind"], **changes))
        except ApplicationError as exc:
            field = (exc.details or {}).get("field", "parameters")
            self.add_error(field if field in self.fields else None, exc.message)
        return cleaned


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleAdminForm
    list_display = ("name", "kind", "enabled", "last_evaluated_at")
    list_filter = ("kind", "enabled")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            user=request.user,
            action="alert_rule.update" if change else "alert_rule.create",
            target_type="alert_rule",
            target_id=obj.pk,
            detail={"rule": obj.name, "changed": form.changed_data, "via": "admin"},
        )


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("subject", "rule", "status", "opened_at", "resolved_at")
    list_filter = ("status", "rule")
    list_select_related = ("rule",)
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertNotification)
class AlertNotificationAdmin(admin.ModelAdmin):
    list_display = ("alert", "change", "channel", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "change")
    readonly_fields = [f.name for f in AlertNotification._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
