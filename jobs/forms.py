"""Forms of the dashboard pages: the job list's filters and the page cursor."""

import base64
import uuid
from datetime import datetime

from django import forms

from jobs import registry
from jobs.models import JobStatus

PAGE_SIZES = (20, 50, 100, 200)


def encode_cursor(key) -> str:
    created_at, pk = key
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(value: str):
    """(created_at, id) from a cursor; None for anything malformed."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        created_at, pk = raw.split("|")
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            return None
        return moment, uuid.UUID(pk)
    except (ValueError, UnicodeDecodeError):
        return None


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "any status"), *JobStatus.choices], required=False)
    actor = forms.CharField(required=False, max_length=200)
    queue = forms.ChoiceField(required=False)
    created_after = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="from"
    )
    created_before = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="to"
    )
    search = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "id, text in args/result/error, or key:value"}),
        help_text="Text anywhere in the actor, error, idempotency key, args, kwargs or result; key:value "
        "matches a kwargs or result key by JSON value (order_id:42); a job id finds that job.",
    )
    size = forms.TypedChoiceField(
        choices=[(n, n) for n in PAGE_SIZES], coerce=int, required=False, empty_value=50, label="per page"
    )
    after = forms.CharField(required=False, widget=forms.HiddenInput)
    before = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data=None, **kwargs):
        if data is not None and not data.get("size"):
            data = data.copy()
            data["size"] = "50"  # shown as chosen, not only used
        super().__init__(data, **kwargs)
        self.fields["queue"].choices = [("", "any queue")] + [(q, q) for q in registry.QUEUES]
        self.fields["actor"].widget.attrs["list"] = "actor-names"

    def selector_filters(self) -> dict:
        """The keyword arguments of ``selectors.job_list``."""
        data = self.cleaned_data
        return {
            "status": data.get("status") or None,
            "actor": data.get("actor") or None,
            "queue": data.get("queue") or None,
            "created_after": data.get("created_after"),
            "created_before": data.get("created_before"),
            "search": data.get("search") or None,
        }

    def cursor(self):
        data = self.cleaned_data
        return decode_cursor(data.get("after") or ""), decode_cursor(data.get("before") or "")
