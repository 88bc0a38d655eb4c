"""The scheduler process: standby until it holds the leader lease, then fire the schedules.

Every process, active or standby, writes the scheduler heartbeat. The active one runs an
APScheduler ``BackgroundScheduler`` with a memory job store kept in step with the ``Schedule``
table: every ``sync_interval`` seconds it diffs (id, updated_at) against its jobs and adds,
reschedules or removes. Each fire calls ``services.schedule_fire`` with the scheduled fire time,
which refuses a second job for the same fire time whatever the lease says.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import dramatiq
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from django.db import DatabaseError, close_old_connections, connection

from jobs.scheduling import selectors, services, triggers
from jobs.scheduling.lock import LeaderLock
from jobs.selectors import SCHEDULER_HEARTBEAT_EXPIRY as HEARTBEAT_EXPIRY
from jobs.selectors import scheduler_heartbeat_key

logger = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL = 5.0  # edits are live within this (+ one query): the issue asks for 10 s
DEFAULT_LEASE = 15.0  # a dead leader's successor starts within this + STANDBY_POLL
HEARTBEAT_INTERVAL = 5.0
STANDBY_POLL = 1.0
TICK = 0.25
ERROR_PAUSE = 2.0  # after a failed loop turn (database or Redis down), not to spin on the error
# Firings of one schedule serialize on its row; a slow database must not make APScheduler drop
# fire times for "maximum number of running instances reached".
MAX_INSTANCES = 5
FIRE_THREADS = 8
FIRE_RETRY_DELAYS = (0.5, 1.0, 2.0)


def heartbeat_key() -> str:
    return scheduler_heartbeat_key()


class FiringExecutor(BasePoolExecutor):
    """APScheduler's thread pool, except that each run receives its scheduled time as ``fire_time``.

    APScheduler 3 calls a job's function without the time it was scheduled for; the fire time is
    what makes a firing idempotent, so it cannot be guessed from the clock.
    """

    def __init__(self, max_workers: int = FIRE_THREADS):
        super().__init__(concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="schedule-fire"))

    def _do_submit_job(self, job, run_times):
        def done(future):
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(_run_fires, job, run_times).add_done_callback(done)


def _run_fires(job, run_times) -> list:
    events = []
    for run_time in run_times:
        late = datetime.now(UTC) - run_time
        if job.misfire_grace_time is not None and late > timedelta(seconds=job.misfire_grace_time):
            logger.warning("Schedule %r: fire time %s missed by %s, past its misfire grace", job.name, run_time, late)
            events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_time))
            continue
        try:
            retval = job.func(*job.args, fire_time=run_time, **job.kwargs)
        except Exception as exc:
            logger.exception("Schedule %r: firing %s failed", job.name, run_time)
            events.append(JobExecutionEvent(EVENT_JOB_ERROR, job.id, job._jobstore_alias, run_time, exception=exc))
        else:
            events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time, retval=retval))
    return events


class SchedulerRunner:
    """One scheduler process. ``run()`` blocks until ``stop()``."""

    def __init__(self, *, sync_interval: float = DEFAULT_SYNC_INTERVAL, lease: float = DEFAULT_LEASE, client=None):
        self.client = client or dramatiq.get_broker().client
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lock = LeaderLock(client=self.client, key=selectors.leader_key(), token=self.identity, ttl=lease)
        self.sync_interval = sync_interval
        self.renew_interval = lease / 3
        self.stopping = threading.Event()
        self.wake = threading.Event()  # set by stop() or by a fire that found its schedule changed
        self.scheduler: BackgroundScheduler | None = None
        self.versions: dict[int, datetime] = {}
        # Schedules whose fire failed on a database error: planned again from the table, whose
        # next_run_at still names the failed fire time, so it is caught up (within misfire grace).
        self._replan: set[int] = set()
        self._replan_lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.scheduler is not None

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # --- main loop ---

    def run(self) -> None:
        next_heartbeat = next_renew = next_sync = next_attempt = 0.0
        logger.info("Scheduler %s started (standby until it holds the lease)", self.identity)
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                if now >= next_heartbeat:
                    self.heartbeat()
                    next_heartbeat = now + HEARTBEAT_INTERVAL
                try:
                    if self.active:
                        if now >= next_renew or not self.lock.held():
                            next_renew = now + self.renew_interval
                            if not self._renew():
                                self._demote("it lost the lease")
                        if self.active and (now >= next_sync or self.wake.is_set()):
                            self.wake.clear()
                            self.sync()
                            next_sync = time.monotonic() + self.sync_interval
                    else:
                        self.wake.clear()
                        if now >= next_attempt:
                            next_attempt = now + STANDBY_POLL
                            if self.lock.acquire():
                                self._promote()
                                next_renew = time.monotonic() + self.renew_interval
                                next_sync = time.monotonic() + self.sync_interval
                except Exception:
                    logger.exception("Scheduler loop error; retrying in %s s", ERROR_PAUSE)
                    close_old_connections()
                    self.stopping.wait(ERROR_PAUSE)
                self.wake.wait(TICK)
        finally:
            self._shutdown()

    def heartbeat(self) -> None:
        try:
            self.client.set(heartbeat_key(), str(time.time()), ex=HEARTBEAT_EXPIRY)
        except Exception as exc:
            logger.warning("Scheduler heartbeat failed: %s", exc)

    def _renew(self) -> bool:
        try:
            return self.lock.renew()
        except Exception as exc:  # Redis unreachable: lead on while the lease surely holds
            logger.warning("Renewing the scheduler lease failed: %s", exc)
            return self.lock.held()

    def _promote(self) -> None:
        logger.info("Scheduler %s is now active", self.identity)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            jobstores={"default": MemoryJobStore()},
            executors={"default": FiringExecutor()},
            job_defaults={"max_instances": MAX_INSTANCES},
        )
        self.scheduler.start()
        self.versions = {}
        self.sync()

    def _demote(self, reason: str) -> None:
        logger.warning("Scheduler %s stands by: %s", self.identity, reason)
        scheduler, self.scheduler = self.scheduler, None
        self.versions = {}
        if scheduler is not None:
            scheduler.shutdown(wait=False)

    def _shutdown(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)  # firings in flight finish before the lease goes
            self.lock.release()
            logger.info("Scheduler %s released the lease", self.identity)
        connection.close()

    # --- keeping APScheduler in step with the table ---

    def sync(self) -> None:
        close_old_connections()
        with self._replan_lock:
            replan, self._replan = self._replan, set()
        for schedule_id in replan:
            self.versions.pop(schedule_id, None)
        try:
            schedules = selectors.schedules_for_runner()
            now = datetime.now(UTC)
            wanted = {schedule.pk for schedule in schedules}
            for schedule_id in [pk for pk in self.versions if pk not in wanted]:
                logger.info("Schedule %s removed or paused", schedule_id)
                self._remove(schedule_id)
            for schedule in schedules:
                if self.versions.get(schedule.pk) != schedule.updated_at:
                    self._plan(schedule, now)
        finally:
            close_old_connections()

    def _plan(self, schedule, now: datetime) -> None:
        version = schedule.updated_at
        try:
            trigger = triggers.trigger_of(schedule)
        except triggers.TriggerError as exc:
            logger.error("Schedule %r is not scheduled: %s", schedule.name, exc)
            self._remove(schedule.pk)
            self.versions[schedule.pk] = version
            return
        run_at = triggers.first_run_time(trigger, recorded_next=schedule.next_run_at, now=now)
        if run_at is None:
            self._remove(schedule.pk)
        else:
            self.scheduler.add_job(
                self._fire,
                trigger=trigger,
                args=(schedule.pk, version),
                id=str(schedule.pk),
                name=schedule.name,
                misfire_grace_time=schedule.misfire_grace_seconds,
                coalesce=schedule.coalesce,
                next_run_time=run_at,
                replace_existing=True,
            )
            logger.info("Schedule %r planned from %s", schedule.name, run_at.isoformat())
        self.versions[schedule.pk] = version
        services.schedule_record_next_run(schedule_id=schedule.pk, version=version, next_run_at=run_at)

    def _remove(self, schedule_id: int) -> None:
        self.versions.pop(schedule_id, None)
        try:
            self.scheduler.remove_job(str(schedule_id))
        except JobLookupError:
            pass

    # --- firing ---

    def _fire(self, schedule_id: int, version: datetime, fire_time: datetime | None = None) -> str | None:
        if fire_time is None:  # only FiringExecutor may run this job
            raise RuntimeError("a schedule fires only with its fire time")
        if not self.lock.held():
            # Not fired, so not recorded: whoever leads next plans it again from the table's
            # next_run_at, which still names this fire time, and catches it up within its grace.
            logger.warning("Not firing schedule %s at %s: the lease is not held", schedule_id, fire_time.isoformat())
            with self._replan_lock:
                self._replan.add(schedule_id)
            self.wake.set()
            return None
        for delay in (*FIRE_RETRY_DELAYS, None):
            close_old_connections()
            try:
                result = services.schedule_fire(schedule_id=schedule_id, fire_time=fire_time, version=version)
                break
            except DatabaseError as exc:
                if delay is None or self.stopping.is_set():
                    with self._replan_lock:  # at the next regular sync, not at once: no hot loop
                        self._replan.add(schedule_id)
                    raise
                logger.warning("Firing schedule %s at %s: database error, retrying: %s", schedule_id, fire_time, exc)
                time.sleep(delay)
            finally:
                close_old_connections()
        outcome = result.outcome
        if outcome == services.Outcome.FIRED:
            logger.info("Schedule %s fired for %s: job %s", schedule_id, fire_time.isoformat(), result.job.pk)
        elif outcome == services.Outcome.SKIPPED:
            logger.warning(
                "Schedule %s skipped %s: its previous job %s is still waiting or running",
                schedule_id,
                fire_time.isoformat(),
                result.previous_job_id,
            )
        else:
            logger.info("Schedule %s not fired for %s: %s", schedule_id, fire_time.isoformat(), outcome)
        if outcome in (services.Outcome.STALE, services.Outcome.MISSING, services.Outcome.DISABLED):
            self.wake.set()  # reload now rather than at the next sync
        return outcome
