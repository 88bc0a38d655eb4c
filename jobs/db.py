"""Riding out database trouble in the worker's own threads, and values the database will accept."""

from __future__ import annotations

import json
import logging
import time

from django.db import Error, connection

logger = logging.getLogger(__name__)

# Waits between tries: about 16 s in all before giving up.
RETRY_DELAYS = (0.2, 0.5, 1, 2, 4, 8)


def drop_connection() -> None:
    """Close this thread's connection after an error: the next query opens a fresh one."""
    try:
        connection.close()
    except Error:
        pass


def with_db_retries(operation, delays=RETRY_DELAYS, *, forever: bool = False, stopping=None):
    """Run ``operation``; on any database error (operational, interface, data) drop the connection,
    wait and try again. Raises the last error once ``delays`` are used up, unless ``forever``: then
    it keeps trying at the last delay until it succeeds or ``stopping`` (an Event) is set."""
    attempt = 0
    while True:
        try:
            return operation()
        except Error as exc:
            drop_connection()
            if attempt >= len(delays) and (not forever or (stopping is not None and stopping.is_set())):
                raise
            delay = delays[min(attempt, len(delays) - 1)]
            attempt += 1
            logger.warning("Database error, retrying in %s s: %s", delay, exc)
            time.sleep(delay)


def clean_text(value, limit: int | None = None) -> str:
    """Text PostgreSQL accepts: no NUL characters, no lone surrogates."""
    text = str(value)
    if limit is not None:
        text = text[:limit]
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


MAX_JSON_DEPTH = 100


def json_nodes(value, *, paths: bool = False):
    """Every value of a parsed JSON tree and every object key, depth-first and without recursion (a
    5,000-deep array must not raise RecursionError): yields (node, depth, path, is_key). The root is
    at depth 0, an object's keys and values one deeper. ``path`` holds the keys and indexes from the
    root (a key: its object's path) when ``paths``, else None. A caller stops the walk by leaving."""
    stack = [(value, 0, () if paths else None)]
    while stack:
        node, depth, path = stack.pop()
        yield node, depth, path, False
        if isinstance(node, dict):
            for key, item in node.items():
                yield key, depth + 1, path, True
                stack.append((item, depth + 1, (*path, key) if paths else None))
        elif isinstance(node, (list, tuple)):
            stack.extend((item, depth + 1, (*path, index) if paths else None) for index, item in enumerate(node))


def clean_json(value, *, limit_bytes: int):
    """A JSON value safe for jsonb and under ``limit_bytes``; anything else is summarised, never lost
    silently and never allowed to fail a write."""
    if value is None:
        return None
    try:
        cleaned = _clean(value, 0)
        size = len(json.dumps(cleaned, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        return {"unstorable_result": clean_text(repr(value), 1000), "reason": clean_text(exc, 200)}
    if size > limit_bytes:
        return {"truncated": True, "size_bytes": size, "limit_bytes": limit_bytes}
    return cleaned


def _clean(value, depth: int):
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON")
