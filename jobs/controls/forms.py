"""The Queues page's limit forms: an empty box means "no limit"."""

from django import forms

from jobs.controls.services import MAX_LIMIT, MAX_PERIOD


class ActorLimitsForm(forms.Form):
    max_concurrency = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    rate_limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    rate_period = forms.FloatField(required=False, min_value=0.001, max_value=MAX_PERIOD)


class QueueLimitsForm(ActorLimitsForm):
    ready_window = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
