"""The scheduler process (the Procfile's ``scheduler``): fires the schedules kept in the database.

Run as many as you like: the one holding the leader lease in Redis is active, the others stand by
and take over within the lease (15 s) plus a second when it dies. Every one writes the scheduler
heartbeat that the health check reads. Edits to schedules are picked up within the sync interval
without a restart. Job recovery (relay, reaper) is the built-in "jobs.recover" schedule.
"""

import os
import signal

from django.core.management.base import BaseCommand, CommandError

from jobs.scheduling.runner import DEFAULT_LEASE, DEFAULT_SYNC_INTERVAL, SchedulerRunner


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise CommandError(f"{name} must be a number of seconds") from None


class Command(BaseCommand):
    help = "Runs a scheduler process (active or standby) that fires the database's schedules."

    def add_arguments(self, parser):
        parser.add_argument(
            "--sync-interval",
            type=float,
            default=_env_float("SCHEDULER_SYNC_INTERVAL", DEFAULT_SYNC_INTERVAL),
            help="Seconds between reloads of the schedules (env SCHEDULER_SYNC_INTERVAL, default 5)",
        )
        parser.add_argument(
            "--lease",
            type=float,
            default=_env_float("SCHEDULER_LEASE_SECONDS", DEFAULT_LEASE),
            help="Seconds the leader lease lasts without renewal (env SCHEDULER_LEASE_SECONDS, default 15)",
        )

    def handle(self, *, sync_interval, lease, **options):
        if sync_interval <= 0:
            raise CommandError("--sync-interval must be above 0 seconds")
        if lease < 3:
            raise CommandError("--lease must be at least 3 seconds")
        runner = SchedulerRunner(sync_interval=sync_interval, lease=lease)
        signal.signal(signal.SIGTERM, lambda *args: runner.stop())
        signal.signal(signal.SIGINT, lambda *args: runner.stop())
        self.stdout.write(f"Scheduler {runner.identity} started (sync every {sync_interval:g} s, lease {lease:g} s).")
        self.stdout.flush()
        runner.run()
        self.stdout.write("Scheduler stopped.")
