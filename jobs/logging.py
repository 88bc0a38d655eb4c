import logging


class DropDiscardedResultWarning(logging.Filter):
    """Dramatiq warns when an actor returns a value without its Results middleware; the job engine
    stores results in the Job row, so the warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "haven't added the Results middleware" not in record.getMessage()
