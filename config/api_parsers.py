"""The API's one request parser: JSON, bounded in size and depth, errors in the one JSON shape."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from jobs.errors import PayloadTooLarge


class BoundedJSONParser(JSONParser):
    """Reads at most ``API_MAX_JSON_BYTES`` (+1 to tell a larger body) and parses it.

    A larger body is a 413 before any of it is parsed; a body nested deeper than the parser can
    follow (RecursionError) or not UTF-8 is a 400, never a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_JSON_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The JSON body is larger than {limit} bytes.", details={"limit": limit})
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=json.strict_constant)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:  # UnicodeDecodeError too; NaN and Infinity are refused
            raise ParseError(f"JSON parse error - {exc}") from None
