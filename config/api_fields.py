"""Serializer fields shared by the APIs."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time that names its zone (``Z`` or ``+02:00``).

    A time without a zone is refused rather than taken as UTC: ``submit_job --eta`` refuses it
    too, and a guess of the zone moves a job by hours without a word.
    """

    default_error_messages = {"naive": "Give a time zone (Z or an offset such as +02:00)."}
    # Nanoseconds and a zone take 35 characters. Longer is refused outright: Python reads any number
    # of fraction digits, and a zone check that skipped long strings let a naive time through.
    MAX_LENGTH = 64

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) > self.MAX_LENGTH:
            self.fail("invalid", format="an ISO 8601 date and time with a zone")
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but not a date: the parent says "invalid"
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


# JSON bodies get fields that take their JSON type only. DRF's own fields coerce: 0 becomes the
# string "0" or False, "5" the number 5; the schema then promises a type the API does not hold to.


class StrictCharField(serializers.CharField):
    """A JSON string, taken as it is: no trimming (a filter "  x" is not "x", and "\\x1f" is not blank)."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"not_an_integer": "Must be a whole number (a JSON integer)."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"not_a_boolean": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data


class QueryInput(serializers.Serializer):
    """Query parameters: one given empty (``?page_size=``) is refused, not taken as absent.

    DRF reads an empty optional parameter as "not given"; for a filter that widens what a list
    shows, and it answers a schema that says "integer" with a 200.
    """

    def to_internal_value(self, data):
        getlist = getattr(data, "getlist", lambda name: [data.get(name)])
        for name in self.fields:
            if name in data and any(value == "" for value in getlist(name)):
                raise serializers.ValidationError({name: ["May not be empty: leave the parameter out instead."]})
        return super().to_internal_value(data)


class ClosedInput(serializers.Serializer):
    """A JSON body that refuses a field it does not know (400 naming it) instead of ignoring it.

    Ignored, a misspelt filter field widens a purge or a retry to every failed job, and a misspelt
    or read-only field of an edit answers 200 having changed nothing.
    """

    unknown_field_message = "Unknown field."

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [self.unknown_field_message] for name in unknown})
        return super().to_internal_value(data)


class ClosedInputExtension(OpenApiSerializerExtension):
    """The schema says so too (``additionalProperties: false``): clients and schemathesis know."""

    target_class = ClosedInput
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}
