"""Input and output shapes of the alerts API. Checks beyond types live in the services."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api_fields import ClosedInput, StrictBooleanField, StrictCharField
from jobs.alerts.models import Alert, AlertKind, AlertNotification, AlertRule, AlertStatus
from jobs.serializers import JSONObjectField, PageInput


class AlertFilterInput(PageInput):
    status = serializers.ChoiceField(choices=AlertStatus.choices, required=False)
    rule = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    kind = serializers.ChoiceField(choices=AlertKind.choices, required=False)

    def selector_filters(self) -> dict:
        return {key: value for key, value in self.validated_data.items() if key in ("status", "rule", "kind")}


class AlertRuleRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=AlertKind.choices)


class AlertNotificationOutput(serializers.ModelSerializer):
    class Meta:
        model = AlertNotification
        fields = ["id", "change", "channel", "status", "attempts", "created_at", "sent_at"]


class AlertOutput(serializers.ModelSerializer):
    rule = AlertRuleRef()
    notifications = AlertNotificationOutput(many=True, help_text="One per change and channel, with its delivery.")
    details = serializers.DictField(help_text="The figures behind the alert, as of its last evaluation.")

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "subject",
            "status",
            "summary",
            "details",
            "opened_at",
            "resolved_at",
            "last_evaluated_at",
            "notifications",
        ]


class AlertPageOutput(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous (newer) page, if any.")
    results = AlertOutput(many=True)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "string"}}]},
        "description": "The kind's thresholds: whole numbers, or lists of queue names (empty: all).",
    }
)
class ParametersField(JSONObjectField):
    pass


class AlertRuleOutput(serializers.ModelSerializer):
    parameters = ParametersField()
    email_recipients = serializers.ListField(child=serializers.CharField())
    open_alerts = serializers.IntegerField()

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "kind",
            "description",
            "enabled",
            "parameters",
            "email_recipients",
            "webhook_url",
            "open_alerts",
            "last_evaluated_at",
            "created_at",
            "updated_at",
        ]


class AlertRuleInput(ClosedInput):
    """name and kind are the rule's identity: not editable, refused like any field not listed here."""

    enabled = StrictBooleanField(required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000)
    parameters = ParametersField(
        required=False, help_text="Only the parameters named change; unknown ones or values out of range: 400."
    )
    email_recipients = serializers.ListField(
        child=StrictCharField(max_length=254), required=False, max_length=50, help_text="Addresses told of each change."
    )
    webhook_url = StrictCharField(
        required=False, allow_blank=True, max_length=500, help_text="http(s) URL receiving a JSON POST per change."
    )
