"""Errors of the reports app (part of the platform's hierarchy, mapped to HTTP by one handler)."""

from jobs.errors import ApplicationError


class ReportNotReady(ApplicationError):
    """A report whose files do not exist yet (or never will: it failed): 409."""

    status_code = 409
    code = "report_not_ready"
