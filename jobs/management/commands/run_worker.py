"""Start Dramatiq workers for chosen queues, processes and threads (the Procfile's ``worker``).

The command supervises its ``dramatiq`` process: when one worker child dies (SIGKILL, OOM),
Dramatiq stops the whole pool (upstream #376); we start it again so that work goes on.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django_dramatiq.management.commands.rundramatiq import Command as RunDramatiq

from jobs.registry import QUEUES

RESTART_DELAY = 1.0


class Command(BaseCommand):
    help = "Runs Dramatiq worker processes with the job engine's settings, restarting them if they crash."

    def add_arguments(self, parser):
        parser.add_argument("--processes", "-p", type=int, default=int(os.environ.get("WORKER_PROCESSES", 2)))
        parser.add_argument("--threads", "-t", type=int, default=int(os.environ.get("WORKER_THREADS", 8)))
        parser.add_argument(
            "--queues", "-Q", nargs="*", default=None, help=f"Subset of queues (default all: {', '.join(QUEUES)})"
        )
        parser.add_argument("--shutdown-timeout", type=int, default=30, help="Seconds running jobs get on SIGTERM")
        parser.add_argument("--no-restart", action="store_true", help="Exit when the worker pool exits")

    def handle(self, *, processes, threads, queues, shutdown_timeout, no_restart, verbosity, **options):
        env = dict(os.environ)
        # The consumer polls Redis; its idle back-off caps first-job latency after a quiet spell.
        env.setdefault("dramatiq_worker_timeout", str(settings.JOBS["WORKER_TIMEOUT_MS"]))
        modules = RunDramatiq().discover_tasks_modules()
        executable = os.path.join(os.path.dirname(sys.executable), "dramatiq")
        argv = [
            executable if os.path.exists(executable) else "dramatiq",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--worker-shutdown-timeout",
            str(shutdown_timeout * 1000),
            *(["-v"] * max(verbosity - 1, 0)),
            *modules,
        ]
        if queues:
            argv += ["--queues", *queues]
        stopping = False
        child = None

        def forward(signum, frame):
            nonlocal stopping
            stopping = True
            if child and child.poll() is None:
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        while True:
            self.stdout.write(f"Starting worker pool: {' '.join(argv[1:])}")
            self.stdout.flush()
            child = subprocess.Popen(argv, env=env)
            code = child.wait()
            if stopping or no_restart or code == 0:
                sys.exit(code)
            self.stderr.write(f"Worker pool exited with code {code}; restarting in {RESTART_DELAY} s.")
            time.sleep(RESTART_DELAY)
