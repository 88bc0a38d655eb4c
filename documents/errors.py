"""Errors of the documents app (part of the platform's hierarchy, mapped to HTTP by one handler)."""

from jobs.errors import PermanentError


class DocumentRejected(PermanentError):
    """A document refused by policy (unsupported type, bomb, over a limit): the job fails, no retry."""


class DocumentFailed(PermanentError):
    """A document that cannot be read (corrupt, encrypted, a parser over its limits): the job fails, no retry."""
