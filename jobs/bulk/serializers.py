"""Input of the bulk API: an action and the jobs list's filter."""

from rest_framework import serializers

from config.api_fields import AwareDateTimeField, ClosedInput, StrictCharField
from jobs.bulk.services import ACTIONS
from jobs.serializers import StatusesField


class BulkFilterInput(ClosedInput):
    """The filter of ``GET /api/v1/jobs`` as a JSON object. A field given empty, or a field this
    filter does not know, is refused (400): a filter that silently widened would act on more jobs."""

    status = StatusesField(required=False, allow_empty=False)
    actor = StrictCharField(required=False, max_length=200)
    queue = StrictCharField(required=False, max_length=100)
    created_after = AwareDateTimeField(required=False)
    created_before = AwareDateTimeField(required=False)
    search = StrictCharField(required=False, max_length=100)

    unknown_field_message = "Not a filter field of the jobs list."

    def to_internal_value(self, data):
        if isinstance(data, dict) and not set(data) - set(self.fields):  # unknown fields: ClosedInput's 400
            statuses = data.get("status")
            if isinstance(statuses, list) and len(statuses) != len({str(s) for s in statuses}):
                raise serializers.ValidationError({"status": ["Give each status once."]})
        return super().to_internal_value(data)

    def validate_search(self, value):
        # The jobs list ignores a blank search: taken as a criterion, it would let a cancel or
        # delete past the "needs a criterion" check and act on every job.
        if not value.strip():
            raise serializers.ValidationError("May not be blank: leave search out instead.")
        return value


class BulkInput(ClosedInput):
    """A misspelt "filter" would leave a retry or run_now with no filter: every job."""

    action = serializers.ChoiceField(
        choices=ACTIONS,
        help_text="retry: failed and cancelled jobs; cancel: waiting and running ones; delete: finished ones; "
        "run_now: scheduled and retrying ones become due now.",
    )
    filter = BulkFilterInput(
        required=False,
        default=dict,
        help_text="Which jobs, as in the jobs list. cancel and delete need at least one criterion.",
    )
