"""The platform's error hierarchy: application errors map to HTTP in one handler."""


class ApplicationError(Exception):
    """A request the platform refuses, with a stable code and an HTTP status."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, details=None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class ValidationFailed(ApplicationError):
    """Input that does not fit: 400."""


class PayloadTooLarge(ApplicationError):
    """Input over a size limit: 413."""

    status_code = 413
    code = "payload_too_large"


class NotFound(ApplicationError):
    """An object that does not exist (or that the user may not see): 404."""

    status_code = 404
    code = "not_found"


class InvalidTransition(ApplicationError):
    """A job state change that the state machine does not allow from the current state: 409."""

    status_code = 409
    code = "invalid_transition"


class UnknownActor(ValidationFailed):
    """An actor name that is not registered."""

    code = "unknown_actor"


class JobError(Exception):
    """A failure raised inside a running job; it retries by the actor's policy unless permanent."""


class PermanentError(JobError):
    """Raised by an actor for a failure that retrying cannot fix: the job fails at once."""


class LockNotAcquired(JobError):
    """A job lock (jobs.locks) held elsewhere for longer than the job would wait: the attempt fails
    and the job retries by its policy."""


class JobCancelled(BaseException):
    """Raised inside a running job when it was cancelled. BaseException so that actors'
    ``except Exception`` blocks do not swallow it."""


class JobFenced(BaseException):
    """Raised inside a running copy whose job was taken from it (released after its worker was
    presumed lost, then run again elsewhere): it must stop; nothing it writes is recorded."""


class SoftTimeLimitExceeded(Exception):
    """Raised inside a running job when its soft time limit passes: clean up and stop."""
