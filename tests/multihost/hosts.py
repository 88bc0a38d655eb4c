"""The platform's processes on the bed's hosts: ``run_worker``, ``run_scheduler``, gunicorn, the agent.

Each host is a network namespace with a hostname of its own (a UTS namespace through ``unshare``),
as separate machines would have. Its processes reach PostgreSQL and Redis by address over the
namespace network. Logs go to var/test-logs/multihost/ and outlive the bed, for post-mortems.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
LOG_DIR = BASE_DIR / "var" / "test-logs" / "multihost"
VENV_BIN = Path(sys.executable).parent

# Engine timings for the bed, as in the integration tests (tests/integration/conftest.py), plus a
# shorter broker heartbeat timeout so that a lost host's prefetched messages come back sooner.
ENGINE_ENV = {
    "JOBS_HEARTBEAT_INTERVAL": "0.5",
    "JOBS_LIVENESS_TIMEOUT": "4",
    "JOBS_HARD_LIMIT_GRACE": "1",
    "JOBS_DISPATCH_INTERVAL": "0.1",
    "JOBS_MAINTENANCE_INTERVAL": "1",
    "JOBS_LOST_MESSAGE_AGE": "3",
    "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "5000",
    "dramatiq_worker_timeout": "100",
    "dramatiq_restart_delay": "500",
    "WORKER_SHUTDOWN_TIMEOUT": "10",
}
LIVENESS_TIMEOUT = float(ENGINE_ENV["JOBS_LIVENESS_TIMEOUT"])
ACTOR_MODULES = "tests.multihost.actors"


def on_host(namespace: str, hostname: str) -> list[str]:
    """The prefix that runs a command in a network namespace under a hostname of its own."""
    return ["ip", "netns", "exec", namespace, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname]


class HostProcess:
    """One of the platform's processes on one host, in its own process group."""

    def __init__(self, *, host: Host, kind: str, argv: list[str], env: dict, log_name: str):
        self.host = host
        self.kind = kind
        self.argv = argv
        self.env = env
        self.log_path = LOG_DIR / log_name
        self.proc: subprocess.Popen | None = None

    def start(self) -> HostProcess:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} {self.kind} on {self.host.label} ===\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                on_host(self.host.namespace, self.host.hostname) + self.argv,
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Host:
    """A worker host (or web host): a namespace, an address, a hostname, the processes started on it."""

    def __init__(self, *, label: str, namespace: str, address: str, base_env: dict, scenario: str):
        self.label = label
        self.namespace = namespace
        self.address = address
        self.hostname = f"mh-{label}"
        self.base_env = base_env
        self.scenario = scenario
        self.processes: list[HostProcess] = []

    def env(self, extra: dict | None = None) -> dict:
        return {**self.base_env, "MULTIHOST_HOST": self.label, **(extra or {})}

    def run(self, kind: str, argv: list[str], extra_env: dict | None = None) -> HostProcess:
        """Start ``argv`` on this host (from the project's directory); its log is named after ``kind``."""
        name = f"{self.scenario}-{self.label}-{kind}-{len(self.processes)}.log"
        process = HostProcess(host=self, kind=kind, argv=argv, env=self.env(extra_env), log_name=name).start()
        self.processes.append(process)
        return process

    def run_worker(self, *, processes: int = 1, threads: int = 4, env: dict | None = None) -> HostProcess:
        argv = [sys.executable, "manage.py", "run_worker", "-p", str(processes), "-t", str(threads)]
        return self.run("worker", argv, env)

    def run_scheduler(self, *, env: dict | None = None) -> HostProcess:
        return self.run("scheduler", [sys.executable, "manage.py", "run_scheduler"], env)

    def web(self, *, port: int = 8000, env: dict | None = None) -> HostProcess:
        argv = [str(VENV_BIN / "gunicorn"), "config.wsgi", "--bind", f"0.0.0.0:{port}", "--workers", "2"]
        argv += ["--no-control-socket"]  # its default path is in $HOME, shared by every gunicorn here
        return self.run("web", argv, env)

    def agent(self, command: str, payload: dict | None = None, *, env: dict | None = None, timeout: float = 120):
        """Run ``tests/multihost/agent.py`` on this host and return its JSON answer."""
        argv = [sys.executable, "-m", "tests.multihost.agent", command, json.dumps(payload or {})]
        done = subprocess.run(
            on_host(self.namespace, self.hostname) + argv,
            cwd=BASE_DIR,
            env=self.env(env),
            capture_output=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"agent {command} on {self.label} failed:\n{done.stderr.decode()[-3000:]}")
        return json.loads(done.stdout.decode().strip().splitlines()[-1])

    def stop_all(self, *, timeout: float = 20.0) -> None:
        for process in reversed(self.processes):
            process.stop(timeout)
