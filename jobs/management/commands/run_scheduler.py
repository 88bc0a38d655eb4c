"""The scheduler process: periodic engine maintenance on APScheduler, with a heartbeat in Redis.

Runs job recovery (relay pending jobs, reap dead workers' jobs) every 30 s and marks itself
alive for the health check. Database-kept, editable schedules come with the scheduler issue.
"""

import logging
import signal
import time

import dramatiq
from apscheduler.schedulers.blocking import BlockingScheduler
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from jobs import recovery
from jobs.selectors import SCHEDULER_HEARTBEAT_KEY

logger = logging.getLogger(__name__)


def heartbeat():
    try:
        dramatiq.get_broker().client.set(SCHEDULER_HEARTBEAT_KEY, str(time.time()), ex=120)
    except Exception as exc:
        logger.warning("Scheduler heartbeat failed: %s", exc)


def recover():
    close_old_connections()
    try:
        logger.info("Recovery: %s", recovery.recover())
    finally:
        close_old_connections()


class Command(BaseCommand):
    help = "Runs the scheduler process."

    def handle(self, **options):
        scheduler = BlockingScheduler(timezone="UTC")
        scheduler.add_job(heartbeat, "interval", seconds=5, id="heartbeat")
        scheduler.add_job(recover, "interval", seconds=30, id="recover", max_instances=1, coalesce=True)
        heartbeat()
        signal.signal(signal.SIGTERM, lambda *a: scheduler.shutdown(wait=False))
        self.stdout.write("Scheduler started.")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
