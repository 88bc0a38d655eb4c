"""Keyset (cursor) pagination on (created_at, id) whose cursor cannot be turned into a 500."""

from datetime import UTC, datetime

from rest_framework.exceptions import NotFound as DrfNotFound
from rest_framework.pagination import CursorPagination

from jobs.errors import NotFound


def _invalid_cursor() -> NotFound:
    # 404 as DRF answers for a cursor it cannot read: the page it names does not exist.
    return NotFound(
        "The cursor is not one this API made; follow the next and previous links as they are.",
        details={"field": "cursor"},
        code="invalid_cursor",
    )


class CreatedAtCursorPagination(CursorPagination):
    """Constant cost at any depth of a million rows. A cursor is base64 of a query string whose
    position DRF filters on as it is: anything but an aware ISO time is refused (404) here."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except DrfNotFound:
            raise _invalid_cursor() from None
        if cursor is not None and cursor.position is not None:
            try:
                moment = datetime.fromisoformat(cursor.position)
                # In UTC, as DRF writes positions (str of a stored time): Python takes offsets up
                # to ±23:59 that PostgreSQL refuses (a 500), and the shift can leave years 1-9999.
                position = str(moment.astimezone(UTC)) if moment.tzinfo is not None else None
            except (ValueError, OverflowError):
                raise _invalid_cursor() from None
            if position is None:
                raise _invalid_cursor()
            cursor = cursor._replace(position=position)
        return cursor
