"""Input and output shapes of the audit API."""

from rest_framework import serializers

from config.api_fields import AwareDateTimeField, QueryInput
from jobs.audit.models import AuditEntry
from jobs.serializers import PageInput


class AuditFilterInput(QueryInput):
    action = serializers.CharField(required=False, max_length=64, trim_whitespace=False, help_text="e.g. job.retry")
    user = serializers.CharField(required=False, max_length=150, trim_whitespace=False, help_text="A username.")
    target_type = serializers.CharField(required=False, max_length=32, trim_whitespace=False)
    target_id = serializers.CharField(required=False, max_length=200, trim_whitespace=False)
    since = AwareDateTimeField(required=False)
    until = AwareDateTimeField(required=False)

    def selector_filters(self) -> dict:
        return {key: value for key, value in self.validated_data.items() if key in self.fields}


class AuditPageInput(PageInput, AuditFilterInput):
    def selector_filters(self) -> dict:
        return {key: value for key, value in self.validated_data.items() if key in AuditFilterInput().fields}


class AuditEntryOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="username", help_text="Empty for the platform itself.")

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "user", "action", "target_type", "target_id", "count", "detail"]


class AuditPageOutput(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous (newer) page, if any.")
    results = AuditEntryOutput(many=True)
