"""One scenario's world: its database, broker namespace, effects list, supervisors, watchers.

Everything a scenario starts is registered here and torn down by ``close`` (the fixture calls it
whether the test passed or not).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import redis

from tests.chaos.analysis import Verdict, build_copies, judge
from tests.chaos.effects import EffectLog
from tests.chaos.infra import BASE_DIR, RUN_ENV, wait_until
from tests.chaos.observe import JobPoller, read_final
from tests.chaos.processes import ProcessWatcher, Supervisor
from tests.integration.conftest import FAST_ENGINE_ENV

ACTOR_MODULES = "tests.integration.actors,tests.chaos.actors"
# The rewritten engine names it JOBS_LIVENESS_TIMEOUT; today's JOBS_HEARTBEAT_TIMEOUT.
LIVENESS_TIMEOUT = float(FAST_ENGINE_ENV.get("JOBS_LIVENESS_TIMEOUT") or FAST_ENGINE_ENV["JOBS_HEARTBEAT_TIMEOUT"])


class Submitter:
    """A long-lived ``python -m tests.chaos.submitter`` in the scenario's environment."""

    def __init__(self, env: dict, log_path: Path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.submitter"],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="chaos-submitter-reader").start()
        self.ready = False  # it boots Django while the scenario starts its workers

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def _expect(self, prefix: str, *, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"the submitter did not answer within {timeout} s (log {self.log.name})") from None
            if line.startswith("FAILED "):
                raise AssertionError(f"submitting failed: {line[7:]}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def submit(self, actor: str, calls: list, *, queue_name: str | None = None) -> list[str]:
        if not self.ready:
            self._expect("READY", timeout=60)
            self.ready = True
        self.proc.stdin.write(json.dumps({"actor": actor, "calls": calls, "queue": queue_name}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._expect("SUBMITTED ", timeout=60))

    def close(self) -> None:
        # Every answer it gave was published already (on commit, before answering): nothing to drain.
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()


class Scenario:
    def __init__(
        self,
        tag: str,
        *,
        run_id: str,
        database_url: str,
        broker_url: str,
        effects_url: str,
        log_dir: Path,
    ):
        self.tag = tag
        self.run_id = run_id
        self.database_url = database_url
        self.broker_url = broker_url
        self.effects_url = effects_url
        self.log_dir = log_dir
        self.namespace = f"chaos-{run_id}-{tag}"
        self.effects_key = f"chaos:{run_id}:{tag}:effects"
        self.effects_client = redis.Redis.from_url(effects_url)
        self.effects = EffectLog(self.effects_client, self.effects_key)
        self.watcher = ProcessWatcher(self.effects)
        self.poller = JobPoller(database_url)
        self.supervisors: list[Supervisor] = []
        self._submitter: Submitter | None = None
        self.marks: dict[str, float] = {}  # named moments of the scenario (a signal, a restart), for the evidence
        self.began = time.monotonic()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.watcher.start()
        self.poller.start()
        self._submitter = Submitter(self.env({"LOG_LEVEL": "WARNING"}), log_dir / f"{tag}-submitter.log")

    def env(self, extra: dict | None = None) -> dict:
        return {
            **os.environ,
            **FAST_ENGINE_ENV,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.broker_url,
            "DRAMATIQ_NAMESPACE": self.namespace,
            "JOBS_EXTRA_ACTOR_MODULES": ACTOR_MODULES,
            "CHAOS_EFFECTS_URL": self.effects_url,
            "CHAOS_EFFECTS_KEY": self.effects_key,
            "PYTHONUNBUFFERED": "1",
            RUN_ENV: self.run_id,
            **(extra or {}),
        }

    # --- processes ---

    def start_supervisor(
        self,
        name: str,
        *,
        processes: int,
        threads: int,
        queues: list[str] | None = None,
        shutdown_timeout: int | None = None,
        env: dict | None = None,
        wait: bool = True,
    ) -> Supervisor:
        argv = ["run_worker", "--processes", str(processes), "--threads", str(threads)]
        if shutdown_timeout is not None:
            argv += ["--shutdown-timeout", str(shutdown_timeout)]
        if queues:
            argv += ["--queues", *queues]
        supervisor = Supervisor(
            name,
            argv=argv,
            env=self.env(env),
            cwd=BASE_DIR,
            log_path=self.log_dir / f"{self.tag}-{name}.log",
        )
        self.supervisors.append(supervisor)
        self.watcher.add(supervisor.start())
        if wait:
            wait_until(
                lambda: len(supervisor.leaves()) >= processes,
                timeout=60,
                message=f"{processes} worker process(es) of {name} (log {supervisor.log_path})",
            )
        return supervisor

    def busy_pids(self) -> list[int]:
        """Live worker processes that are running at least one job (from the effects)."""
        live = set()
        for supervisor in self.supervisors:
            live.update(supervisor.tree()[0])
        return sorted(pid for pid in self.effects.open_copies_by_pid() if pid in live)

    # --- jobs ---

    def submit(self, actor: str, calls: list, *, queue_name: str | None = None) -> list[str]:
        return self._submitter.submit(actor, calls, queue_name=queue_name)

    def wait_started(self, job_ids, count: int | None = None, *, timeout: float) -> None:
        wanted = len(job_ids) if count is None else count
        wait_until(
            lambda: len({e.job for e in self.effects.starts(job_ids)}) >= wanted,
            timeout=timeout,
            interval=0.05,
            message=f"{wanted} job(s) to start",
        )

    def wait_terminal(self, job_ids, *, timeout: float) -> float | None:
        """Seconds until every job was terminal, or None if some were not within ``timeout``."""
        begin = time.monotonic()
        deadline = begin + timeout
        while time.monotonic() < deadline:
            if self.poller.all_terminal(job_ids):
                return time.monotonic() - begin
            time.sleep(0.2)
        return None

    def judge(self, job_ids: list[str]) -> Verdict:
        """Counts from outside: effects, process deaths and the rows as the engine left them."""
        self.watcher.poll()
        horizon = time.time()
        copies = build_copies(self.effects.refresh(), self.watcher)
        final, attempts = read_final(self.database_url)
        self.copies = copies
        self.final = final
        self.attempts = attempts
        self._dump(job_ids, copies, attempts)
        return judge(job_ids, copies, final, attempts, self.watcher, self.poller, horizon)

    def _dump(self, job_ids, copies, attempts) -> None:
        """Everything the verdict rests on, for whoever reads a failure: <tag>-evidence.json."""
        with self.watcher.lock:
            pids = {
                pid: {
                    "supervisor": i.supervisor,
                    "first_seen": i.first_seen,
                    "died_at": i.died_at,
                    "killed_at": i.killed_at,
                }
                for pid, i in self.watcher.pids.items()
            }
            kills = [asdict(k) for k in self.watcher.kills]
        with self.poller.lock:
            rows = {j: [asdict(s) for s in self.poller.history.get(j, [])] for j in job_ids}
        evidence = {
            "copies": {j: [asdict(c) for c in copies.get(j, [])] for j in job_ids},
            "rows": rows,
            "attempts": [asdict(a) for a in attempts],
            "worker_pids": pids,
            "kills": kills,
            "supervisors": {
                s.name: {"pid": s.pid, "started_at": s.started_at, "exited_at": s.exited_at} for s in self.supervisors
            },
            "database_outages": self.poller.outages,
            "marks": self.marks,
        }
        (self.log_dir / f"{self.tag}-evidence.json").write_text(json.dumps(evidence, indent=1, default=str))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.began

    # --- teardown ---

    def close(self) -> None:
        errors = []
        for supervisor in self.supervisors:
            try:
                supervisor.kill_all()
            except Exception as exc:  # keep tearing down the rest
                errors.append(exc)
        self.watcher.stop()
        self.watcher.kill_survivors()
        if self._submitter is not None:
            self._submitter.close()
        self.poller.stop()
        self.effects_client.delete(self.effects_key)
        if errors:
            raise errors[0]
