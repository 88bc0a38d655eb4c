"""Errors of the scheduler, in the platform's hierarchy (mapped to HTTP by the one handler)."""

from jobs.errors import ApplicationError


class ScheduleBusy(ApplicationError):
    """A run-now refused because the previous job is still waiting or running (overlap skip): 409."""

    status_code = 409
    code = "schedule_busy"
