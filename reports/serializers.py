"""Input and output shapes of the reports API."""

from rest_framework import serializers

from config.api_fields import AwareDateTimeField, QueryInput
from jobs.serializers import PageInput
from reports import selectors
from reports.models import Report, ReportKind, ReportStatus


class ReportTriggerInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices, required=False, default=ReportKind.STORE_UPTIME)
    since = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="task_execution only.")
    until = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="task_execution only.")


class ReportListInput(PageInput):
    kind = serializers.ChoiceField(choices=ReportKind.choices, required=False)


class ReportTriggerOutput(serializers.Serializer):
    report_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    task_id = serializers.CharField(allow_null=True)


class ReportStatusInput(QueryInput):
    report_id = serializers.UUIDField()


class ReportStatusOutput(serializers.Serializer):
    report_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    url = serializers.URLField(allow_null=True, help_text="The CSV download, once the report is COMPLETE.")
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    progress = serializers.IntegerField()
    progress_message = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True, help_text="Why the report failed.")
    row_count = serializers.IntegerField(allow_null=True)
    task_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ReportOutput(serializers.ModelSerializer):
    report_id = serializers.UUIDField(source="id")
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True, default=None)
    task_id = serializers.CharField(source="job_id", allow_null=True)
    status = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "report_id",
            "kind",
            "status",
            "requested_by",
            "parameters",
            "created_at",
            "started_at",
            "finished_at",
            "row_count",
            "error",
            "task_id",
        ]

    def get_status(self, report) -> str:
        return selectors.report_state(report).status

    def get_error(self, report) -> str:
        return selectors.report_state(report).error


class StoreDataImportOutput(serializers.Serializer):
    files = serializers.ListField(child=serializers.DictField())
    seconds = serializers.FloatField()


class ReportPageOutput(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ReportOutput(many=True)
