"""SQLite's ``monitoring_regexp(pattern, text)``: the ``regex`` module with a time limit per match.

PostgreSQL's own regex engine bounds backtracking; in SQLite the match runs in Python, so a
pathological pattern that slipped past validation stops with an error instead of hanging a scan.
"""

from functools import lru_cache

import regex

from monitoring.conf import monitoring_setting


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
        raise ValueError(f"the regular expression {pattern!r} took too long on a value") from None
