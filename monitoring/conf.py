"""Settings of the monitoring app: ``settings.MONITORING`` overrides, else the environment, else defaults."""

import environ
from django.conf import settings

env = environ.Env()

DEFAULTS = {
    # Records updated this long before the last watermark are read again: a writer whose
    # transaction committed after the previous scan read its rows is not missed.
    "SCAN_OVERLAP_SECONDS": env.float("MONITORING_SCAN_OVERLAP_SECONDS", default=60.0),
    # A pause inside each scan pass, in its transaction. 0 in production; tests use it to kill a
    # worker in the middle of a scan.
    "SCAN_PAUSE_SECONDS": env.float("MONITORING_SCAN_PAUSE_SECONDS", default=0.0),
    # PostgreSQL's work_mem inside a scan's transaction (the merge's hashes and sorts).
    "SCAN_WORK_MEM": env.str("MONITORING_SCAN_WORK_MEM", default="64MB"),
    "IMPORT_BATCH_SIZE": env.int("MONITORING_IMPORT_BATCH_SIZE", default=2000),
    "MAX_RECORD_BYTES": env.int("MONITORING_MAX_RECORD_BYTES", default=64 * 1024),
    # SQLite evaluates regular expressions in Python (the regex module): a match may take this long.
    "SQLITE_REGEX_TIMEOUT": env.float("MONITORING_SQLITE_REGEX_TIMEOUT", default=0.25),
}


def monitoring_setting(name: str):
    return getattr(settings, "MONITORING", {}).get(name, DEFAULTS[name])
