"""One JSON error shape for every API error: {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from jobs.errors import ApplicationError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def _field_errors(detail, path: str = "") -> list[tuple[str, str]]:
    """(field path, first message) of each field at fault: ``name``, ``sources[0]``, ``items[2].sku``."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list field's item, by its index
                inner = f"{path}[{key}]"
            else:
                inner = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            pairs += _field_errors(value, inner)
        return pairs
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        # A list of nested serializers: one entry per item, empty for the items without errors.
        return [pair for i, item in enumerate(detail) for pair in _field_errors(item, f"{path}[{i}]")]
    if isinstance(detail, list):
        return [(path, str(detail[0]))] if detail else []
    return [(path, str(detail))]


def _drf_message(detail) -> str:
    if isinstance(detail, list) and not any(isinstance(item, (dict, list)) for item in detail):
        return "; ".join(str(d) for d in detail) or "Invalid input."
    if isinstance(detail, (dict, list)):
        # Nested errors by their path, not as Python's repr of DRF's ErrorDetail objects.
        parts = [f"{path}: {text}" if path else text for path, text in _field_errors(detail)]
        return "; ".join(parts) or "Invalid input."
    return str(detail)


def _encodable(value):
    """``value`` with every lone surrogate replaced: an error message that repeats the input it
    refuses (a choice, an unknown key) must still encode as UTF-8, or the refusal becomes a 500."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encodable(item) for item in value]
    return value


def api_exception_handler(exc, context):
    response = _error_response(exc, context)
    if response is not None:
        response.data = _encodable(response.data)
    return response


def _error_response(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, (RequestDataTooBig, TooManyFilesSent)):
        return Response(error_body("payload_too_large", str(exc)), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):  # e.g. too many form fields: Django would answer an HTML 400
        logger.warning("Refused a suspicious API request: %s", exc)
        return Response(error_body("invalid", "The request is malformed."), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # unexpected errors: a 500 with Django's logging
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
    elif not isinstance(code, str):
        code = getattr(exc, "default_code", "error")
    details = detail if isinstance(detail, (dict, list)) else None
    if isinstance(exc, exceptions.ValidationError) and isinstance(detail, dict) and detail:
        # As the services' errors do: the first field and its reason, then every field's errors.
        field, value = next(iter(detail.items()))
        reason = value[0] if isinstance(value, list) and value else value
        details = {"field": field, "reason": str(reason) if not isinstance(reason, dict) else reason, "errors": detail}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details = {"retry_after_seconds": int(exc.wait) + 1}
    response.data = error_body(code, _drf_message(detail), details)
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = "Token"
    return response


# --- Django's error views: the same JSON shape for /api/ paths outside DRF's views -----------------


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("not_found", "No such API endpoint."), status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("invalid", "The request is malformed."), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", "Not allowed."), status=403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(error_body("server_error", "Internal error; it was logged."), status=500)
    return defaults.server_error(request)
