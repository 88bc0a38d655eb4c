"""Serializer fields shared by the APIs."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time that names its zone (``Z`` or ``+02:00``).

    A time without a zone is refused rather than taken as UTC: ``submit_job --eta`` refuses it
    too, and a guess of the zone moves a job by hours without a word.
    """

    default_error_messages = {"naive": "Give a time zone (Z or an offset such as +02:00)."}

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) <= 64:
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but not a date: the parent says "invalid"
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)
