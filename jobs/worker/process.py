"""A worker process: one Dramatiq worker (its threads and consumers) under a supervisor.

Signals are handled once: the first SIGTERM, SIGINT or SIGHUP starts a graceful stop (running jobs
get the shutdown timeout to finish; fetched messages go back to the broker), later ones are ignored
— honcho and systemd signal the whole process group and the supervisor forwards its own, so a
process typically receives two. The process dies with its supervisor (PR_SET_PDEATHSIG): a worker
must never run on while nobody vouches for its liveness.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading

import dramatiq
from django.conf import settings

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its supervisor dies (Linux); exit at once if the
    supervisor is already gone."""
    expected = int(os.environ.get("JOBS_SUPERVISOR_PID") or 0)
    if not expected:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the loop below notices a new parent
        pass
    if os.getppid() != expected:
        sys.exit(1)


def run_worker_process(*, queues, threads: int, shutdown_timeout: float) -> int:
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            logger.info("Worker process %s already stopping; signal %s ignored.", os.getpid(), signum)
            return
        logger.info("Worker process %s stopping (signal %s).", os.getpid(), signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    die_with_parent()
    supervisor = int(os.environ.get("JOBS_SUPERVISOR_PID") or 0)

    broker = dramatiq.get_broker()
    # The supervisor knows this id: when the process dies it gives back what the process had
    # fetched but not acknowledged, at once and at the head of the queues.
    broker.broker_id = os.environ.get("JOBS_BROKER_ID") or broker.broker_id
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(
        broker,
        queues=set(queues) if queues else None,
        worker_threads=threads,
        worker_timeout=settings.JOBS["WORKER_TIMEOUT_MS"],
    )
    worker.start()
    logger.info("Worker process %s ready: %s threads on %s.", os.getpid(), threads, ", ".join(queues or ["all queues"]))
    while not stop.wait(1.0):
        if supervisor and os.getppid() != supervisor:
            logger.error("Supervisor %s is gone: worker process %s exits.", supervisor, os.getpid())
            os._exit(1)
    worker.stop(timeout=int(shutdown_timeout * 1000))
    broker.close()
    return 0
