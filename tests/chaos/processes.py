"""Worker supervisors started by the harness, and a watcher that records when each worker dies.

A supervisor is ``manage.py run_worker`` in a session of its own, so that its process group can be
signalled as honcho and systemd do. Its worker processes are its leaf descendants: today they are
grandchildren (supervisor -> dramatiq parent -> children), after the engine's rewrite children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.chaos.effects import EffectLog


class Supervisor:
    """One ``run_worker`` process and its descendants."""

    def __init__(self, name: str, *, argv: list[str], env: dict, cwd: Path, log_path: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.exited_at: float | None = None

    def start(self) -> Supervisor:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", *self.argv],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.time()
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        alive = self.proc is not None and self.proc.poll() is None
        if not alive and self.proc is not None and self.exited_at is None:
            self.exited_at = time.time()
        return alive

    def leaves(self) -> list[psutil.Process]:
        """The worker processes: descendants without children of their own."""
        return self.tree()[1]

    def tree(self) -> tuple[set[int], list[psutil.Process]]:
        """Pids of all running descendants, and the leaves among them."""
        try:
            tree = [p for p in psutil.Process(self.pid).children(recursive=True) if _running(p)]
        except psutil.NoSuchProcess:
            return set(), []
        parents = set()
        for proc in tree:
            try:
                parents.add(proc.ppid())
            except psutil.NoSuchProcess:
                pass
        return {p.pid for p in tree}, [p for p in tree if p.pid not in parents]

    # Both return the time just before the signal: nothing it causes can come earlier (the time
    # taken after it could be late by a whole thread switch on a busy machine).

    def sigterm(self) -> float:
        """SIGTERM to the supervisor alone (an operator's ``kill``)."""
        sent = time.time()
        self.proc.send_signal(signal.SIGTERM)
        return sent

    def sigterm_group(self) -> float:
        """SIGTERM to the whole process group (what honcho and systemd send)."""
        sent = time.time()
        os.killpg(self.pid, signal.SIGTERM)
        return sent

    def wait_exit(self, timeout: float) -> float | None:
        """Seconds this waited for the supervisor to exit, or None if it is still running."""
        begin = time.monotonic()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.alive()
        return time.monotonic() - begin

    def kill_all(self) -> None:
        """SIGKILL to the group and to any descendant that left it: nothing may outlive a test."""
        if self.proc is None:
            return
        stray = []
        try:
            stray = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for proc in stray:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.alive()


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class WorkerPid:
    pid: int
    supervisor: str
    create_time: float
    first_seen: float
    died_at: float | None = None  # first poll that found it gone (an upper bound)
    killed_at: float | None = None  # when the harness's SIGKILL had returned (it runs nothing after)
    last_alive: float = 0.0  # a moment it was surely alive (a lower bound of its death)
    handle: psutil.Process | None = field(default=None, repr=False)

    @property
    def death(self) -> float | None:
        """When the process stopped running code: the kill for ours, the observation otherwise."""
        if self.killed_at is not None:
            return self.killed_at
        return self.died_at


@dataclass(frozen=True)
class Kill:
    pid: int
    t: float  # just before the SIGKILL: latencies are measured from here (never shorter than true)
    returned: float  # just after it: the process's death for the analysis (never earlier than true)
    phase: str


class ProcessWatcher(threading.Thread):
    """Polls the supervisors' trees: records every worker pid, its supervisor and its death."""

    def __init__(self, effects: EffectLog, *, interval: float = 0.05):
        super().__init__(name="chaos-process-watcher", daemon=True)
        self.effects = effects
        self.interval = interval
        self.supervisors: list[Supervisor] = []
        self.pids: dict[int, WorkerPid] = {}
        self.ran_jobs: set[int] = set()  # pids that recorded at least one event
        self.kills: list[Kill] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def add(self, supervisor: Supervisor) -> None:
        with self.lock:
            self.supervisors.append(supervisor)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.poll()
            self.stopping.wait(self.interval)

    def poll(self) -> None:
        now = time.time()
        with self.lock:
            supervisors = list(self.supervisors)
        for supervisor in supervisors:
            descendants, leaves = supervisor.tree()
            for proc in leaves:
                self._learn(proc, supervisor.name, now)
            # A pool parent seen before it forked its children looked like a leaf: forget it (but
            # never a process that ran jobs, should a worker ever have children of its own).
            with self.lock:
                for pid in descendants.difference(p.pid for p in leaves):
                    info = self.pids.get(pid)
                    if info is not None and info.killed_at is None and pid not in self.ran_jobs:
                        del self.pids[pid]
        # A pid seen only in the effects (it lived less than a poll) is learned late but kept.
        for event in self.effects.refresh():
            self.ran_jobs.add(event.pid)
            if event.pid not in self.pids:
                self._learn_pid(event.pid, now)
        with self.lock:
            for info in self.pids.values():
                if info.died_at is not None:
                    continue
                looked = time.time()
                if self._alive(info):
                    info.last_alive = max(info.last_alive, looked)
                else:
                    info.died_at = time.time()  # taken after the look: never earlier than the death

    def _learn(self, proc: psutil.Process, supervisor: str, now: float) -> None:
        with self.lock:
            if proc.pid in self.pids:
                return
            try:
                created = proc.create_time()
            except psutil.NoSuchProcess:
                return
            self.pids[proc.pid] = WorkerPid(proc.pid, supervisor, created, now, handle=proc)

    def _learn_pid(self, pid: int, now: float) -> None:
        owner = "?"
        try:
            proc = psutil.Process(pid)
            created = proc.create_time()
            ancestors = {p.pid for p in proc.parents()}
            owner = next((s.name for s in self.supervisors if s.pid in ancestors), "?")
        except psutil.NoSuchProcess:
            with self.lock:
                self.pids.setdefault(pid, WorkerPid(pid, owner, 0.0, now, died_at=time.time()))
            return
        with self.lock:
            self.pids.setdefault(pid, WorkerPid(pid, owner, created, now, handle=proc))

    @staticmethod
    def _alive(info: WorkerPid) -> bool:
        if info.handle is None:
            return False
        try:
            return info.handle.is_running() and info.handle.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def kill(self, pid: int, *, phase: str) -> Kill | None:
        """SIGKILL one worker process; the kill's time is its death time for the analysis."""
        with self.lock:
            info = self.pids.get(pid)
        handle = info.handle if info else psutil.Process(pid)
        sent = time.time()
        try:
            handle.send_signal(signal.SIGKILL)  # psutil refuses a pid reused meanwhile
        except psutil.NoSuchProcess:
            return None
        kill = Kill(pid, sent, time.time(), phase)
        with self.lock:
            if info is not None:
                info.killed_at = kill.returned
                info.last_alive = max(info.last_alive, sent)
            self.kills.append(kill)
        return kill

    def last_alive(self, pid: int) -> float:
        with self.lock:
            info = self.pids.get(pid)
            return info.last_alive if info else 0.0

    def death(self, pid: int) -> float | None:
        with self.lock:
            info = self.pids.get(pid)
            return info.death if info else None

    def owner(self, pid: int) -> str:
        with self.lock:
            info = self.pids.get(pid)
            return info.supervisor if info else "?"

    def alive_pids(self, supervisor: str | None = None) -> list[int]:
        with self.lock:
            return [
                i.pid
                for i in self.pids.values()
                if i.died_at is None and i.killed_at is None and (supervisor is None or i.supervisor == supervisor)
            ]

    def kill_survivors(self) -> None:
        """SIGKILL any worker process still running (one that escaped its supervisor's group)."""
        with self.lock:
            handles = [i.handle for i in self.pids.values() if i.handle is not None]
        for handle in handles:
            try:
                handle.kill()  # psutil checks that the pid was not reused
            except psutil.NoSuchProcess:
                pass

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(5)
        self.poll()  # a last look: deaths during teardown are recorded too
