"""The Dramatiq middleware that ties messages to job rows (``DRAMATIQ_BROKER["MIDDLEWARE"]``).

Thin by design: the process's runtime (jobs.worker.runtime) does the work. Messages without a
``job_id`` option pass through untouched.
"""

from __future__ import annotations

import logging

from dramatiq.middleware import Middleware, SkipMessage

logger = logging.getLogger(__name__)


class JobTracking(Middleware):
    actor_options = {"throws"}

    def __init__(self):
        self.runtime = None

    def before_worker_boot(self, broker, worker):
        # Before the worker threads start: Dramatiq hands them messages before "after_worker_boot".
        from jobs.worker.runtime import ProcessRuntime

        queues = worker.consumer_whitelist or broker.get_declared_queues()
        self.runtime = ProcessRuntime(queues=queues, threads=worker.worker_threads).start()

    def after_worker_shutdown(self, broker, worker):
        if self.runtime is not None:
            self.runtime.stop()

    def before_process_message(self, broker, message):
        if not message.options.get("job_id"):
            return
        if self.runtime is None:
            raise SkipMessage("job messages are processed only by a booted worker")
        try:
            ctx = self.runtime.begin(message)
        except Exception:
            # Dramatiq would log this and run the actor anyway: never run a job without its claim.
            logger.exception("Claiming the job of message %s failed; the message is dropped.", message.message_id)
            raise SkipMessage("claim failed") from None
        if ctx is None:
            raise SkipMessage("not claimable")

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if message.options.get("job_id") and self.runtime is not None:
            self.runtime.finish(message, result=result, exception=exception)
