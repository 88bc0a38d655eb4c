"""Run a worker host: a supervisor and its worker processes (the Procfile's ``worker``).

The supervisor starts ``--processes`` worker processes, each one Dramatiq worker with ``--threads``
threads, restarts one that dies without touching the others, vouches for their liveness with its
heartbeat, and on SIGTERM or SIGINT drains them: running jobs get ``--shutdown-timeout`` seconds,
then what is still running is released to run again elsewhere. See jobs.worker.supervisor.
``--autoscale MIN:MAX`` lets the number of processes follow the backlog (jobs.worker.autoscale).
"""

import os

from django.core.management.base import BaseCommand, CommandError

from jobs.registry import QUEUES


class Command(BaseCommand):
    help = "Runs a worker host: a supervisor and its worker processes."

    def add_arguments(self, parser):
        parser.add_argument("--processes", "-p", type=int, default=int(os.environ.get("WORKER_PROCESSES", 2)))
        parser.add_argument("--threads", "-t", type=int, default=int(os.environ.get("WORKER_THREADS", 8)))
        parser.add_argument(
            "--queues", "-Q", nargs="*", default=None, help=f"Subset of queues (default all: {', '.join(QUEUES)})"
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=float(os.environ.get("WORKER_SHUTDOWN_TIMEOUT", 30)),
            help="Seconds running jobs get to finish on SIGTERM (env WORKER_SHUTDOWN_TIMEOUT, default 30)",
        )
        parser.add_argument(
            "--autoscale",
            metavar="MIN:MAX",
            default=os.environ.get("WORKER_AUTOSCALE") or None,
            help="Grow from MIN to MAX processes on backlog, shrink when quiet (env WORKER_AUTOSCALE); "
            "overrides --processes",
        )
        parser.add_argument("--child", action="store_true", help="(internal) run one worker process")

    def handle(self, *, processes, threads, queues, shutdown_timeout, child, verbosity, autoscale, **options):
        if child:
            from jobs.worker.process import run_worker_process

            raise SystemExit(run_worker_process(queues=queues, threads=threads, shutdown_timeout=shutdown_timeout))
        from jobs.worker.supervisor import Supervisor

        autoscaler = None
        if autoscale:
            from jobs.worker.autoscale import Autoscaler, parse_bounds

            try:
                bounds = parse_bounds(autoscale)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            autoscaler = Autoscaler(bounds=bounds, threads=threads)
            processes = bounds.minimum
        supervisor = Supervisor(
            processes=processes,
            threads=threads,
            queues=queues,
            shutdown_timeout=shutdown_timeout,
            verbosity=verbosity,
            autoscaler=autoscaler,
        )
        raise SystemExit(supervisor.run())
