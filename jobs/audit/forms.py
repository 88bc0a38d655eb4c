"""The audit page's filter and its page cursor."""

import base64
from datetime import datetime

from django import forms

from jobs.audit import selectors


def encode_cursor(key) -> str:
    at, pk = key
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(value: str):
    """(at, id) from a cursor; None for anything malformed."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, pk = raw.split("|")
        moment = datetime.fromisoformat(at)
        return (moment, int(pk)) if moment.tzinfo is not None else None
    except (ValueError, UnicodeDecodeError):
        return None


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    user = forms.CharField(required=False, max_length=150)
    target_type = forms.CharField(required=False, max_length=32, label="target type")
    target_id = forms.CharField(required=False, max_length=200, label="target id")
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    after = forms.CharField(required=False, widget=forms.HiddenInput)
    before = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "any action")] + [(a, a) for a in selectors.audit_actions()]

    def selector_filters(self) -> dict:
        data = self.cleaned_data
        return {key: data.get(key) or None for key in ("action", "user", "target_type", "target_id", "since", "until")}

    def cursor(self):
        data = self.cleaned_data
        return decode_cursor(data.get("after") or ""), decode_cursor(data.get("before") or "")
