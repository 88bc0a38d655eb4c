"""Acting on everything a filter matches: retry, cancel, delete, run now.

A request only submits one internal job (``jobs.bulk``, on the maintenance queue) carrying the
action and the filter of the jobs list; the job walks the matching jobs in batches of 500 by id,
applies the action through the state machine's transitions in one transaction per batch, and
reports its progress as it goes. One audit row (target: the bulk job) is written with the
submission and completed with the counts.
"""
