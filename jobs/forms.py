"""Forms of the dashboard pages: the job list's filters, the page cursor, a submission's options."""

import base64
import json
import uuid
from datetime import datetime

from django import forms

from jobs import registry
from jobs.models import JobStatus
from jobs.validation import PRIORITY_RANGE

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

    FILTER_KEYS = ("status", "actor", "queue", "created_after", "created_before", "search")

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


class JobSubmitOptionsForm(forms.Form):
    """The options of a job submitted from the dashboard; its arguments come from the actor's
    signature (jobs.validation.form_call)."""

    queue = forms.ChoiceField(required=False, help_text="Empty: the actor's own queue.")
    priority = forms.IntegerField(initial=0, min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1])
    eta = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        label="ETA",
        help_text="Empty: at once. In the server's time zone.",
    )
    idempotency_key = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", "the actor's queue")] + [(q, q) for q in registry.QUEUES]


class JSONTextField(forms.CharField):
    """A JSON value typed in a text area, of one type (list or dict)."""

    def __init__(self, *, kind: type, **kwargs):
        self.kind = kind
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6, "cols": 80, "spellcheck": "false"}))
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)
        try:
            parsed = json.loads(text or ("[]" if self.kind is list else "{}"))
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(parsed, self.kind):
            raise forms.ValidationError("Must be a JSON array." if self.kind is list else "Must be a JSON object.")
        return parsed


class JobRerunForm(forms.Form):
    args = JSONTextField(kind=list, required=False, max_length=70_000, help_text="A JSON array.")
    kwargs = JSONTextField(kind=dict, required=False, max_length=70_000, help_text="A JSON object.")
