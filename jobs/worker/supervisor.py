"""The worker host's supervisor (``manage.py run_worker``): the unit of liveness.

It starts N worker processes (one Dramatiq worker each) and vouches for them: its heartbeat, written
by this process and never by a worker process, says the host is alive, so a job holding the GIL for
minutes is never taken for dead. When a worker process dies, the supervisor knows at once (it is
the parent): it marks it dead, releases its running jobs (jobs.services.jobs_release decides who is
charged) and gives back what it had fetched, at the head of the queues, then starts a new process.
A job past its hard time limit (plus a grace) gets its process restarted: Dramatiq's time limit
cannot interrupt C code, a new process can.

Threads: the main thread manages processes and signals; ``heartbeat`` writes the host's liveness
and enforces hard limits; ``ledger`` records exits (database and Redis work, retried, never
blocking the main thread); ``recovery`` publishes due jobs and runs the recovery pass.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import Error
from django.db.models import Case, F, When
from django.db.models.functions import Now

from jobs import broker, recovery, registry, services
from jobs.clock import db_now
from jobs.db import drop_connection
from jobs.models import Job, JobStatus, Worker, WorkerHost
from jobs.services import ReleaseReason

logger = logging.getLogger(__name__)

TICK = 0.1
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
# A process that dies this soon after its start is crash-looping: its restarts back off.
EARLY_DEATH_SECONDS = 5.0
STOP_GRACE = 5.0  # after the shutdown timeout, before SIGKILL


def engine(name: str):
    return settings.JOBS[name]


@dataclass(eq=False)
class Child:
    slot: int
    worker_id: str
    broker_id: str
    proc: subprocess.Popen | None = None
    started: float = field(default_factory=time.monotonic)
    stop_requested: bool = False
    timeout_culprit: str | None = None


@dataclass(frozen=True)
class Exit:
    worker_id: str
    broker_id: str
    code: int
    reason: str
    culprit: str | None


class Supervisor:
    def __init__(
        self, *, processes: int, threads: int, queues, shutdown_timeout: float, verbosity: int = 1, autoscaler=None
    ):
        self.processes = processes
        self.threads = threads
        self.queues = list(queues or [])
        self.shutdown_timeout = shutdown_timeout
        self.verbosity = verbosity
        self.stopping = threading.Event()
        self.rejoin = threading.Event()
        self.exits: queue.Queue[Exit] = queue.Queue()
        self.children: dict[int, Child] = {}
        self.lock = threading.Lock()
        self.restart_delay = RESTART_DELAY
        self.next_spawn = 0.0
        self.host_id = self._new_host_id()
        # run_worker --autoscale: its thread asks for a number of processes; the main thread applies it.
        self.autoscaler = autoscaler
        self.resize_request: tuple[int, dict] | None = None
        self._retired = 0

    @staticmethod
    def _new_host_id() -> str:
        # hostname:pid is not unique (containers share hostnames): a random part makes it so.
        return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # --- main thread ---

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        self._register_host()
        self.ledger = threading.Thread(target=self._ledger_loop, name="supervisor-ledger", daemon=True)
        for thread in (
            threading.Thread(target=self._heartbeat_loop, name="supervisor-heartbeat", daemon=True),
            threading.Thread(target=self._recovery_loop, name="supervisor-recovery", daemon=True),
            self.ledger,
        ):
            thread.start()
        if self.autoscaler:
            threading.Thread(
                target=self.autoscaler.run, args=(self, self.stopping), name="supervisor-autoscale", daemon=True
            ).start()
        stop_deadline = None
        while True:
            self._collect_exits()
            if self.stopping.is_set():
                if stop_deadline is None:
                    stop_deadline = time.monotonic() + self.shutdown_timeout + STOP_GRACE
                    self._signal_children(signal.SIGTERM)
                if not self._alive():
                    break
                if time.monotonic() > stop_deadline:
                    self._signal_children(signal.SIGKILL)
            elif self.rejoin.is_set():
                self._rejoin()
            else:
                self._apply_resize()
                self._fill_slots()
            time.sleep(TICK)
        self._drain_ledger(timeout=15)
        self._mark_host_stopped()
        return 0

    def _on_signal(self, signum, frame):
        if not self.stopping.is_set():
            logger.info("Supervisor %s stopping (signal %s): draining its worker processes.", self.host_id, signum)
        self.stopping.set()

    def _alive(self) -> list[Child]:
        with self.lock:
            return [c for c in self.children.values() if c.proc is not None and c.proc.poll() is None]

    def _signal_children(self, signum) -> None:
        for child in self._alive():
            if signum == signal.SIGTERM and child.stop_requested:
                continue  # signals are delivered once
            child.stop_requested = True
            try:
                child.proc.send_signal(signum)
            except ProcessLookupError:
                pass

    def _collect_exits(self) -> None:
        with self.lock:
            exited = [
                (slot, c) for slot, c in self.children.items() if c.proc is not None and c.proc.poll() is not None
            ]
            for slot, _ in exited:
                del self.children[slot]
        for _, child in exited:
            code = child.proc.returncode
            if child.timeout_culprit:
                reason = ReleaseReason.TIMEOUT
            elif child.stop_requested or code == 0:
                reason = ReleaseReason.STOPPED
            else:
                reason = ReleaseReason.CRASH
            logger.log(
                logging.INFO if reason == ReleaseReason.STOPPED else logging.WARNING,
                "Worker process %s (pid %s) exited with code %s (%s).",
                child.worker_id,
                child.proc.pid,
                code,
                reason,
            )
            self.exits.put(Exit(child.worker_id, child.broker_id, code, reason, child.timeout_culprit))
            # A process that exits by itself right after its start is crash-looping (a broken
            # import, a bad setting): its restarts back off. One killed by a signal (SIGKILL, the
            # OOM killer, a job that crashed it) is restarted at once.
            if reason != ReleaseReason.STOPPED and code > 0 and time.monotonic() - child.started < EARLY_DEATH_SECONDS:
                self.restart_delay = min(self.restart_delay * 2, MAX_RESTART_DELAY)
                self.next_spawn = time.monotonic() + self.restart_delay
            elif reason != ReleaseReason.STOPPED:
                self.restart_delay = RESTART_DELAY

    def _fill_slots(self) -> None:
        if time.monotonic() < self.next_spawn:
            return
        with self.lock:
            free = [slot for slot in range(self.processes) if slot not in self.children]
        for slot in free:
            if not self._spawn(slot):
                self.next_spawn = time.monotonic() + RESTART_DELAY
                return

    @property
    def served_queues(self) -> list[str]:
        return self.queues or sorted(registry.QUEUES)

    def request_resize(self, target: int, *, busy: dict[str, int]) -> None:
        """Ask for ``target`` processes (the autoscaler's thread); ``busy`` is running jobs per process."""
        self.resize_request = (target, busy)

    def _apply_resize(self) -> None:
        """Grow: more slots, filled by ``_fill_slots``. Shrink: the least busy processes are drained
        (SIGTERM, the graceful path) and move out of the slots, which are renumbered from 0."""
        request, self.resize_request = self.resize_request, None
        if request is None:
            return
        target, busy = request
        with self.lock:
            serving = [c for c in self.children.values() if not c.stop_requested]
            retire = sorted(serving, key=lambda c: busy.get(c.worker_id, 0))[: max(len(serving) - target, 0)]
            keep = [c for c in serving if c not in retire]
            leaving = [c for c in self.children.values() if c not in keep]
            self.children = dict(enumerate(keep))
            for child in leaving:  # out of the slots' range: never refilled, still collected on exit
                self._retired += 1
                self.children[-self._retired] = child
            self.processes = target
        for child in retire:
            logger.info("Autoscale: draining worker process %s (pid %s).", child.worker_id, child.proc.pid)
            child.stop_requested = True
            try:
                child.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _spawn(self, slot: int) -> bool:
        child = Child(slot=slot, worker_id=f"{self.host_id}/{uuid.uuid4().hex[:8]}", broker_id=str(uuid.uuid4()))
        try:  # the row exists before the process can claim anything
            Worker.objects.create(
                id=child.worker_id,
                host_id=self.host_id,
                hostname=socket.gethostname(),
                pid=0,
                queues=self.queues or sorted(registry.QUEUES),
                threads=self.threads,
            )
        except Error as exc:
            logger.warning("Cannot register a worker process (database): %s", exc)
            drop_connection()
            return False
        env = {
            **os.environ,
            "JOBS_WORKER_ID": child.worker_id,
            "JOBS_BROKER_ID": child.broker_id,
            "JOBS_HOST_ID": self.host_id,
            "JOBS_SUPERVISOR_PID": str(os.getpid()),
        }
        # --skip-checks: the supervisor ran Django's system checks once; in a child they would cost
        # about half of its start (they import every URL conf and API), and a restart is on the
        # path of every job its dead predecessor was running.
        argv = [sys.executable, os.path.join(settings.BASE_DIR, "manage.py"), "run_worker", "--child", "--skip-checks"]
        argv += ["--threads", str(self.threads), "--shutdown-timeout", str(self.shutdown_timeout)]
        argv += ["-v", str(self.verbosity)]
        if self.queues:
            argv += ["--queues", *self.queues]
        child.proc = subprocess.Popen(argv, env=env)
        child.started = time.monotonic()
        with self.lock:
            self.children[slot] = child
        try:
            Worker.objects.filter(pk=child.worker_id).update(pid=child.proc.pid)
        except Error:
            drop_connection()
        logger.info("Started worker process %s (pid %s).", child.worker_id, child.proc.pid)
        return True

    def _rejoin(self) -> None:
        """This host was declared lost (silent too long) and its jobs released: stop its processes,
        whose copies are fenced anyway, and come back as a new host."""
        logger.error("Host %s was declared lost while cut off: restarting its worker processes.", self.host_id)
        deadline = time.monotonic() + min(self.shutdown_timeout, 10) + STOP_GRACE
        self._signal_children(signal.SIGTERM)
        while self._alive() and time.monotonic() < deadline:
            self._collect_exits()
            time.sleep(TICK)
        self._signal_children(signal.SIGKILL)
        while self._alive():
            time.sleep(TICK)
        self._collect_exits()
        self.host_id = self._new_host_id()
        self._register_host()
        self.rejoin.clear()

    def kill_for_timeout(self, worker_id: str, job_id: str) -> None:
        with self.lock:
            child = next((c for c in self.children.values() if c.worker_id == worker_id), None)
        if child is None or child.timeout_culprit or child.proc.poll() is not None:
            return
        logger.error("Job %s passed its hard time limit: restarting worker process %s.", job_id, worker_id)
        child.timeout_culprit = job_id
        child.proc.kill()

    # --- host registration and heartbeat ---

    def _register_host(self) -> None:
        while True:
            try:
                WorkerHost.objects.create(
                    id=self.host_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    processes=self.processes,
                    threads=self.threads,
                    queues=self.queues or sorted(registry.QUEUES),
                )
                return
            except Error as exc:
                logger.warning("Cannot register the worker host (database), retrying: %s", exc)
                drop_connection()
                if self.stopping.wait(2.0):
                    raise SystemExit(0) from None

    def beat(self) -> bool:
        """One heartbeat of the host and its live processes; False when the host was declared lost."""
        gap = timedelta(seconds=max(3 * engine("HEARTBEAT_INTERVAL"), 1.0))
        alive = WorkerHost.objects.filter(pk=self.host_id, stopped_at__isnull=True).update(
            heartbeat_at=Now(),
            beating_since=Case(When(heartbeat_at__gte=Now() - gap, then=F("beating_since")), default=Now()),
        )
        if not alive:
            return False
        ids = [c.worker_id for c in self._alive()]
        if ids:
            Worker.objects.filter(pk__in=ids, stopped_at__isnull=True).update(heartbeat_at=Now())
            self._enforce_hard_limits(ids)
        return True

    def _enforce_hard_limits(self, worker_ids) -> None:
        grace = engine("HARD_LIMIT_GRACE")
        running = Job.objects.filter(status=JobStatus.RUNNING, worker_id__in=worker_ids).values_list(
            "id", "actor_name", "worker_id", "started_at"
        )
        now = None
        for job_id, actor_name, worker_id, started_at in running:
            spec = registry.get_spec(actor_name)
            if spec is None or started_at is None:
                continue
            if now is None:
                now = db_now()
            if (now - started_at).total_seconds() > spec.time_limit + grace:
                self.kill_for_timeout(worker_id, str(job_id))

    def _heartbeat_loop(self) -> None:
        while not self.stopping.is_set() or self._alive():
            try:
                if not self.beat() and not self.stopping.is_set():
                    self.rejoin.set()
            except Error as exc:
                logger.warning("Host heartbeat failed (database): %s", exc)
                drop_connection()
            except Exception:
                logger.exception("Host heartbeat failed")
            time.sleep(engine("HEARTBEAT_INTERVAL"))
        drop_connection()

    def _mark_host_stopped(self) -> None:
        try:
            WorkerHost.objects.filter(pk=self.host_id).update(stopped_at=Now())
        except Error:
            pass
        drop_connection()

    # --- exits: release, give back, record ---

    def _ledger_loop(self) -> None:
        while True:
            item = self.exits.get()
            if item is None:
                return
            while True:
                try:
                    self._record_exit(item)
                    break
                except Exception as exc:
                    logger.warning("Recording the exit of %s failed, retrying: %s", item.worker_id, exc)
                    drop_connection()
                    time.sleep(1.0)

    def _record_exit(self, item: Exit) -> None:
        Worker.objects.filter(pk=item.worker_id).update(
            stopped_at=Now(), exit_code=item.code, stop_reason=item.reason, running_jobs=0
        )
        released = services.jobs_release(worker_ids=[item.worker_id], reason=item.reason, culprit_job_id=item.culprit)
        queues = self.queues or sorted(registry.QUEUES)
        given_back = broker.requeue_dead_consumer(item.broker_id, queues)
        if released or given_back:
            logger.warning(
                "Worker process %s: released %d running job(s), gave back %d fetched message(s).",
                item.worker_id,
                len(released),
                given_back,
            )

    def _drain_ledger(self, *, timeout: float) -> None:
        self.exits.put(None)
        self.ledger.join(timeout)

    # --- recovery: dispatcher and recovery pass ---

    def _recovery_loop(self) -> None:
        scan = recovery.LostMessageScan()
        next_full = time.monotonic() + random.uniform(0, engine("MAINTENANCE_INTERVAL"))
        while not self.stopping.is_set():
            try:
                services.publish_due()
                if time.monotonic() >= next_full:
                    recovery.release_lost_copies()
                    scan.run()
                    next_full = time.monotonic() + engine("MAINTENANCE_INTERVAL") * random.uniform(0.8, 1.2)
            except Error as exc:
                logger.warning("Recovery pass failed (database): %s", exc)
                drop_connection()
                self.stopping.wait(1.0)
            except Exception:
                logger.exception("Recovery pass failed")
                self.stopping.wait(1.0)
            self.stopping.wait(engine("DISPATCH_INTERVAL"))
        drop_connection()
