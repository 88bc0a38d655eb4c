"""Writes of the job engine, by concern:

- ``submit``: validate and create jobs (published after commit);
- ``dispatch``: publish due jobs once per token, republish lost messages;
- ``execution``: what running copies write (progress, success, failure) and the release of
  attempts whose worker died;
- ``operations``: operators' cancel, retry, re-run with edited arguments, purge and prune.

Every status change goes through ``jobs.states``.
"""

from jobs.services.dispatch import jobs_publish, jobs_republish_lost, publish_due
from jobs.services.execution import (
    ReleaseReason,
    blame,
    format_traceback,
    job_cancel_requested,
    job_fail_attempt,
    job_record_late_effect,
    job_report_progress,
    jobs_release,
    jobs_succeed,
    storable_result,
)
from jobs.services.operations import (
    RETRYABLE,
    job_cancel,
    job_rerun,
    job_retry,
    jobs_cancel_bulk,
    jobs_prune,
    jobs_purge_failed,
    jobs_results_expire,
    jobs_retry_bulk,
)
from jobs.services.submit import Submitted, job_submit, job_submit_many, submit

__all__ = [
    "RETRYABLE",
    "ReleaseReason",
    "blame",
    "Submitted",
    "format_traceback",
    "job_cancel",
    "job_cancel_requested",
    "job_fail_attempt",
    "job_record_late_effect",
    "job_report_progress",
    "job_rerun",
    "job_retry",
    "job_submit",
    "job_submit_many",
    "jobs_cancel_bulk",
    "jobs_prune",
    "jobs_results_expire",
    "jobs_publish",
    "jobs_purge_failed",
    "jobs_release",
    "jobs_republish_lost",
    "jobs_retry_bulk",
    "jobs_succeed",
    "publish_due",
    "storable_result",
    "submit",
]
