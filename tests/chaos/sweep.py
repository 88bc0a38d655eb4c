"""What a killed run left behind, removed by the next run: a run's teardown cannot run when its
pytest process is SIGKILLed (a CI timeout, an impatient Ctrl-C twice).

A run id is ``<pytest pid>x<random>``; a run whose pytest process is gone is stale. Its databases
(``<base>_chaos_<run>_*``), Redis keys (``chaos:<run>:*``, ``chaos-<run>-*``), processes (they carry
``CHAOS_RUN_ID=<run>`` in their environment) and temp dirs (``/tmp/chaos-{pg,redis}-<run>-*``) go.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile

import psutil
import redis

from tests.chaos.infra import RUN_ENV, PostgresServer


def new_run_id(suffix: str) -> str:
    return f"{os.getpid()}x{suffix}"


def is_stale(run_id: str) -> bool:
    pid, sep, _ = run_id.partition("x")
    if not sep or not pid.isdigit():
        return False  # not ours
    return not psutil.pid_exists(int(pid))


def sweep_stale_runs(*, postgres: PostgresServer, base_name: str, effects: redis.Redis) -> list[str]:
    """Removes every trace of stale runs; returns what it removed, for the log."""
    removed = []
    for proc in psutil.process_iter():
        try:
            run_id = proc.environ().get(RUN_ENV)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
            continue
        if run_id and is_stale(run_id):
            try:
                proc.kill()
                removed.append(f"process {proc.pid} of run {run_id}")
            except psutil.NoSuchProcess:
                pass
    prefix = f"{base_name}_chaos_"
    for name in postgres.databases_like(prefix):
        if is_stale(name[len(prefix) :].split("_")[0]):
            postgres.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            removed.append(f"database {name}")
    for pattern, run_of in (("chaos:*", lambda k: k.split(":")[1]), ("chaos-*", lambda k: k.split("-")[1])):
        stale = [k for k in effects.scan_iter(match=pattern, count=1000) if is_stale(run_of(k.decode()))]
        for start in range(0, len(stale), 500):
            effects.delete(*stale[start : start + 500])
        removed += [f"{len(stale)} redis key(s) {pattern}"] if stale else []
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "chaos-*-*x*-*")):
        run_id = os.path.basename(path).split("-")[2]
        if is_stale(run_id):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"dir {path}")
    return removed
