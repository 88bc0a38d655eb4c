"""SQLite's ``monitoring_regexp(pattern, text)``: the ``regex`` module with a time limit per match.

PostgreSQL's own regex engine bounds backtracking; in SQLite the match runs in Python, so a
pathological pattern that slipped past validation stops with an error instead of hanging a scan.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import regex
from django.db import OperationalError

from monitoring.conf import monitoring_setting

_last_slow = threading.local()  # the pattern whose match took too long, in this thread


class PatternTooSlow(Exception):
    """A rule's regular expression took longer than ``SQLITE_REGEX_TIMEOUT`` on one value."""

    def __init__(self, pattern: str):
        super().__init__(f"the regular expression took longer than {monitoring_setting('SQLITE_REGEX_TIMEOUT')}s")
        self.pattern = pattern


@lru_cache(maxsize=256)
def _compiled(pattern: str):
    return regex.compile(pattern)


def regexp(pattern, text):
    if pattern is None or text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    try:
        return _compiled(pattern).search(text, timeout=monitoring_setting("SQLITE_REGEX_TIMEOUT")) is not None
    except TimeoutError:
        _last_slow.pattern = pattern  # sqlite3 passes on only "user-defined function raised exception"
        raise ValueError(f"the regular expression {pattern!r} took too long on a value") from None


@contextmanager
def slow_patterns() -> Iterator[None]:
    """Turns the OperationalError of a match that took too long into PatternTooSlow, naming the pattern."""
    _last_slow.pattern = None
    try:
        yield
    except OperationalError:
        pattern, _last_slow.pattern = getattr(_last_slow, "pattern", None), None
        if pattern is None:
            raise
        raise PatternTooSlow(pattern) from None
