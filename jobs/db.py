"""Riding out a database outage in the worker's own threads."""

import time

from django.db import DatabaseError, close_old_connections

# Waits between tries: about 16 s in all before giving up.
RETRY_DELAYS = (0.2, 0.5, 1, 2, 4, 8)


def with_db_retries(operation, delays=RETRY_DELAYS):
    """Run ``operation``; on a database error drop the broken connection, wait, and try again.

    Raises the last error once ``delays`` are used up.
    """
    for delay in (*delays, None):
        try:
            return operation()
        except DatabaseError:
            close_old_connections()  # the next try reconnects
            if delay is None:
                raise
            time.sleep(delay)
