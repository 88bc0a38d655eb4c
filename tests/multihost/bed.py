"""The multi-host test bed: a services namespace (private PostgreSQL, Redis, effects Redis) and worker
host namespaces on one bridge; one fresh database and Redis per scenario.

    bed = TestBed(hosts=("h1", "h2", "h3")).start()
    with bed.scenario("spread") as sc:
        sc.hosts["h1"].run_worker()
        ...
    bed.close()   # always: processes, namespaces and data directories go

The bed is migrated once (into a template database); each scenario gets a copy of it, an empty
broker Redis and an empty effects list, and its hosts' processes are stopped when it ends.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from tests.multihost import netns
from tests.multihost.actors import read_events
from tests.multihost.hosts import ACTOR_MODULES, ENGINE_ENV, Host
from tests.multihost.services import PostgresCluster, RedisServer, pgbouncer_binary, postgres_bin_dir, wait_until

TEMPLATE_DB = "wt_multihost_template"
NAMESPACE = "mh"  # the broker's key prefix (the private Redis is the bed's alone)
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_ROOT_NAME = re.compile(r"^mh(\d+)-bed-")


def unavailable_reason() -> str | None:
    """Why the bed cannot run here (namespaces, tools), or None."""
    reason = netns.unavailable_reason()
    if reason:
        return reason
    if postgres_bin_dir() is None:
        return "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: run `make multihost-tools`"
    if shutil.which("redis-server") is None:
        return "no redis-server: run `make multihost-tools`"
    if shutil.which("runuser") is None:
        return "no runuser (util-linux): PostgreSQL must not run as root"
    return None


def pgbouncer_unavailable_reason() -> str | None:
    return None if pgbouncer_binary() else "no pgbouncer binary: run `make multihost-tools` (Debian's pgbouncer)"


def remove_stale_roots() -> None:
    """Data directories of bed runs whose test process is gone."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "mh*-bed-*")):
        match = _ROOT_NAME.match(os.path.basename(path))
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            shutil.rmtree(path, ignore_errors=True)


class TestBed:
    __test__ = False  # not a pytest class

    def __init__(self, *, hosts=("h1", "h2", "h3"), engine_env: dict | None = None):
        self.host_labels = tuple(hosts)
        # Fast engine timings for the scenarios; {} keeps the production defaults (the capacity bench).
        self.engine_env = ENGINE_ENV if engine_env is None else engine_env
        self.root: Path | None = None
        self.network: netns.Network | None = None
        self.postgres: PostgresCluster | None = None
        self.redis: RedisServer | None = None
        self.effects: RedisServer | None = None

    def start(self) -> TestBed:
        netns.remove_stale_namespaces()
        remove_stale_roots()
        self.root = Path(tempfile.mkdtemp(prefix=f"mh{os.getpid()}-bed-"))
        self.root.chmod(0o755)
        self.network = netns.Network().create()
        for label in self.host_labels:
            self.network.add_host(label)
        services = dict(namespace=self.network.services, address=netns.SERVICES_ADDRESS)
        self.postgres = PostgresCluster(root=self.root, subnet=netns.SUBNET, **services).start()
        self.redis = RedisServer(root=self.root, name="redis", port=6379, **services).start()
        # The effects list: a Redis with no TCP port at all, reached over its Unix socket only.
        self.effects = RedisServer(root=self.root, name="effects", namespace=self.network.services, address=None)
        self.effects.start()
        self._migrate_template()
        return self

    def _migrate_template(self) -> None:
        self.postgres.execute_admin(f"CREATE DATABASE {TEMPLATE_DB}")
        host = self.host("h1", database=TEMPLATE_DB, scenario="migrate")
        migrate = host.run("migrate", [sys.executable, "manage.py", "migrate", "--noinput", "-v0"])
        code = migrate.proc.wait(300)
        if code != 0:
            raise AssertionError(f"migrating the bed's database failed:\n{migrate.log_tail()}")
        self.postgres.query(TEMPLATE_DB, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def host(self, label: str, *, database: str, scenario: str, env: dict | None = None) -> Host:
        return Host(
            label=label,
            namespace=self.network.hosts[label],
            address=self.network.addresses[label],
            base_env=self.host_env(database, env),
            scenario=scenario,
        )

    def host_env(self, database: str, extra: dict | None = None) -> dict:
        env = {key: os.environ[key] for key in _KEEP_ENV if key in os.environ}
        env.update(self.engine_env)
        env.update(
            {
                "DATABASE_URL": self.postgres.url(database),
                "REDIS_URL": self.redis.url(0),
                "DRAMATIQ_NAMESPACE": NAMESPACE,
                "JOBS_EXTRA_ACTOR_MODULES": ACTOR_MODULES,
                "MULTIHOST_EFFECTS_SOCKET": str(self.effects.socket),
                "PYTHONUNBUFFERED": "1",
                "ALLOWED_HOSTS": ",".join(["127.0.0.1", "localhost", *self.network.addresses.values()]),
                "DJANGO_SETTINGS_MODULE": "config.settings",
            }
        )
        env.update(extra or {})
        return env

    @contextmanager
    def scenario(self, name: str, *, env: dict | None = None):
        scenario = Scenario(self, name, env=env)
        try:
            yield scenario
        finally:
            scenario.close()

    def close(self) -> None:
        for server in (self.effects, self.redis):  # Sentinel's and PgBouncer's go with the namespace
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    pass
        if self.postgres is not None:
            try:
                self.postgres.stop()
            except Exception:
                pass
        if self.network is not None:
            self.network.destroy()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


class Scenario:
    """One scenario's database, Redis contents, hosts and observations."""

    def __init__(self, bed: TestBed, name: str, *, env: dict | None = None):
        self.bed = bed
        self.name = name
        self.evidence: list = []  # what a scenario saw along the way, for its failure messages
        self.database = f"wt_multihost_{name}"
        bed.postgres.execute_admin(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
        bed.postgres.execute_admin(f"CREATE DATABASE {self.database} TEMPLATE {TEMPLATE_DB}")
        bed.redis.client().flushall()  # the bed's own private Redis
        bed.effects.client().flushall()
        self.hosts = {
            label: bed.host(label, database=self.database, scenario=name, env=env) for label in bed.host_labels
        }

    # --- observations (over Unix sockets: no fault of the bed reaches them) ---

    def sql(self, query: str, params=None) -> list[tuple]:
        return self.bed.postgres.query(self.database, query, params)

    def scalar(self, query: str, params=None):
        rows = self.sql(query, params)
        return rows[0][0] if rows else None

    def events(self):
        return read_events(self.bed.effects.client())

    def status_counts(self) -> dict[str, int]:
        return dict(self.sql("SELECT status, count(*) FROM jobs_job GROUP BY status"))

    def wait_for(self, predicate, *, timeout: float, what: str, interval: float = 0.25):
        try:
            return wait_until(predicate, timeout=timeout, what=what, interval=interval)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics()}") from None

    def wait_all_finished(self, total: int, *, timeout: float) -> dict[str, int]:
        def finished():
            counts = self.status_counts()
            done = sum(counts.get(s, 0) for s in ("succeeded", "failed", "cancelled"))
            return counts if done >= total else None

        return self.wait_for(finished, timeout=timeout, what=f"{total} jobs to finish", interval=0.5)

    def ready_workers(self) -> dict[str, int]:
        """Live worker processes consuming, per hostname."""
        rows = self.sql(
            "SELECT w.hostname, count(*) FROM jobs_worker w JOIN jobs_workerhost h ON h.id = w.host_id "
            "WHERE w.stopped_at IS NULL AND w.ready_at IS NOT NULL AND h.stopped_at IS NULL GROUP BY w.hostname"
        )
        return dict(rows)

    def wait_workers(self, labels, *, processes: int = 1, timeout: float = 60) -> None:
        wanted = {f"mh-{label}" for label in labels}
        self.wait_for(
            lambda: all(self.ready_workers().get(name, 0) >= processes for name in wanted),
            timeout=timeout,
            what=f"worker processes on {sorted(wanted)}",
        )

    def lock_waits(self) -> list[tuple]:
        """Sessions of this database waiting for a lock, with who blocks them (host address, state, query)."""
        return self.sql(
            "SELECT w.client_addr::text, left(w.query, 80), b.client_addr::text, b.state, left(b.query, 120), "
            "round(extract(epoch FROM now() - b.xact_start)::numeric, 1) FROM pg_stat_activity w "
            "JOIN pg_stat_activity b ON b.pid = ANY(pg_blocking_pids(w.pid)) WHERE w.datname = %s",
            [self.database],
        )

    def diagnostics(self) -> str:
        lines = [f"status counts: {self.status_counts()}", f"lock waits: {self.lock_waits()}"]
        for host in self.hosts.values():
            for process in host.processes:
                lines.append(f"--- {host.label} {process.kind} ({process.log_path}):\n{process.log_tail(15)}")
        return "\n".join(lines)

    # --- faults ---

    def cut(self, label: str) -> float:
        self.bed.network.cut(label)
        return time.time()

    def restore(self, label: str) -> float:
        self.bed.network.restore(label)
        return time.time()

    def kill_host(self, label: str) -> float:
        """SIGKILL every process of the host at once, as when the machine dies."""
        netns.kill_namespace_processes(self.hosts[label].namespace)
        killed_at = time.time()
        for process in self.hosts[label].processes:
            if process.proc is not None:
                process.proc.wait(10)
        return killed_at

    def close(self) -> None:
        """Whatever still runs on the hosts is killed: the scenario is over, its database goes too."""
        for host in self.hosts.values():
            self.bed.network.restore(host.label)
            netns.kill_namespace_processes(host.namespace)
        for host in self.hosts.values():
            for process in host.processes:
                if process.proc is not None:
                    process.proc.wait(10)
        self.bed.postgres.execute_admin(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
