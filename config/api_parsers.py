"""The API's one request parser: JSON, bounded in size and depth, errors in the one JSON shape."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from jobs.db import MAX_JSON_DEPTH, json_nodes
from jobs.errors import PayloadTooLarge


def nested_deeper_than(value, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels deep in ``value``."""
    return any(isinstance(node, (dict, list)) and depth >= limit for node, depth, _, _ in json_nodes(value))


class BoundedJSONParser(JSONParser):
    """Reads at most ``API_MAX_JSON_BYTES`` (+1 to tell a larger body) and parses it.

    A larger body is a 413 before any of it is parsed; a body not UTF-8, or nested deeper than
    MAX_JSON_DEPTH, is a 400, never a 500. The parser follows about a thousand levels, but the
    serializers and the JSON encoders behind them recurse with less stack to spare (RecursionError).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_JSON_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The JSON body is larger than {limit} bytes.", details={"limit": limit})
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=json.strict_constant)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:  # UnicodeDecodeError too; NaN and Infinity are refused
            raise ParseError(f"JSON parse error - {exc}") from None
        if nested_deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        return data
