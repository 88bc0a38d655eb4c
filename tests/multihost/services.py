"""The test bed's private servers: PostgreSQL, Redis, Redis Sentinel and PgBouncer.

Each runs inside the services namespace, listens on the bed's address (hosts reach it over the
namespace network) and, for the test's own observations, on a Unix socket in the bed's directory:
the file system is shared across network namespaces, so cutting a host off never cuts the observer.
PostgreSQL and PgBouncer refuse to run as root: they run as ``postgres`` through ``runuser``.
Never the machine's own servers: every data directory is the bed's and goes with it.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg2
import redis

SERVER_USER = "postgres"


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)


def chown_to_server_user(path: Path) -> None:
    shutil.chown(path, SERVER_USER, SERVER_USER)


class ServerProcess:
    """A server started in a namespace, in the foreground, its output in a log file."""

    def __init__(self, *, name: str, namespace: str, argv: list[str], log_path: Path, user: str | None = None):
        self.name = name
        self.namespace = namespace
        self.argv = argv
        self.log_path = log_path
        self.user = user
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        prefix = ["ip", "netns", "exec", self.namespace]
        if self.user:
            prefix += ["runuser", "-u", self.user, "--"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                prefix + self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # not up yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error})")


class PostgresCluster:
    """A private cluster: initdb in the bed's directory, pg_stat_statements loaded, trust on the bed's subnet."""

    def __init__(self, *, root: Path, namespace: str, address: str, subnet: str, port: int = 5432):
        self.dir = root / "postgres"
        self.data = self.dir / "data"
        self.socket_dir = self.dir / "sock"
        self.namespace = namespace
        self.address = address
        self.subnet = subnet
        self.port = port
        self.bin = postgres_bin_dir()
        self.server: ServerProcess | None = None

    def start(self) -> PostgresCluster:
        for path in (self.dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            chown_to_server_user(path)
        subprocess.run(
            ["runuser", "-u", SERVER_USER, "--", str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres"]
            + ["-A", "trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
        )
        config = {
            "listen_addresses": f"'{self.address}'",
            "port": self.port,
            "unix_socket_directories": f"'{self.socket_dir}'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "pg_stat_statements.track": "all",
            "max_connections": 300,
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "logging_collector": "off",
            "log_min_messages": "warning",
            # As the README's deployment section recommends: the session of a host that vanished in
            # the middle of a transaction is closed, and its row locks freed, within seconds.
            "idle_in_transaction_session_timeout": "'10s'",
            "tcp_keepalives_idle": 5,
            "tcp_keepalives_interval": 2,
            "tcp_keepalives_count": 3,
        }
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# multi-host test bed\n")
            for key, value in config.items():
                conf.write(f"{key} = {value}\n")
        (self.data / "pg_hba.conf").write_text(f"local all all trust\nhost all all {self.subnet}.0/24 trust\n")
        log = self.dir / "server.log"
        log.touch()
        chown_to_server_user(log)
        self.server = ServerProcess(
            name="postgres",
            namespace=self.namespace,
            argv=[str(self.bin / "postgres"), "-D", str(self.data)],
            log_path=log,
            user=SERVER_USER,
        ).start()
        wait_until(lambda: self.connect("postgres").close() or True, timeout=30, what="the private PostgreSQL")
        return self

    def url(self, database: str, *, host: str | None = None, port: int | None = None) -> str:
        """The URL a host uses: over the namespace network, never loopback."""
        return f"postgres://postgres@{host or self.address}:{port or self.port}/{database}"

    def connect(self, database: str):
        """An observer's connection over the Unix socket (untouched by network faults)."""
        conn = psycopg2.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname=database)
        conn.autocommit = True
        return conn

    def query(self, database: str, sql: str, params=None) -> list[tuple]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    def execute_admin(self, sql: str) -> None:
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()

    def stop(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)  # fast shutdown
            except (ProcessLookupError, ValueError):
                pass
            deadline = time.monotonic() + 15
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        if self.server is not None:
            self.server.stop(timeout=5)


class RedisServer:
    """A private ``redis-server``: on the bed's address (port > 0) and on a Unix socket."""

    def __init__(self, *, root: Path, name: str, namespace: str, address: str | None, port: int = 0, args=()):
        self.dir = root / name
        self.name = name
        self.namespace = namespace
        self.address = address
        self.port = port
        self.socket = self.dir / "redis.sock"
        self.args = list(args)
        self.server: ServerProcess | None = None

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        if self.address and self.port:
            argv += ["--bind", self.address, "--protected-mode", "no"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.dir), *self.args]
        self.server = ServerProcess(
            name=self.name, namespace=self.namespace, argv=argv, log_path=self.dir / "server.log"
        ).start()
        wait_until(lambda: self.client().ping(), timeout=15, what=f"the private Redis {self.name}")
        return self

    def url(self, db: int = 0) -> str:
        return f"redis://{self.address}:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=10)

    def kill(self) -> None:
        if self.server is not None:
            self.server.signal(signal.SIGKILL)
            self.server.proc.wait(5)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=5)


class Sentinel:
    """A private Redis Sentinel (``redis-server --sentinel``) watching one master."""

    def __init__(self, *, root: Path, namespace: str, address: str, port: int, master: str, master_port: int):
        self.dir = root / "sentinel"
        self.namespace = namespace
        self.address = address
        self.port = port
        self.master = master
        self.master_port = master_port
        self.server: ServerProcess | None = None

    def start(self, *, down_after_ms: int = 1000, failover_timeout_ms: int = 3000) -> Sentinel:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "sentinel.conf"  # Sentinel rewrites its own configuration file
        conf.write_text(
            f"port {self.port}\nbind {self.address}\nprotected-mode no\ndir {self.dir}\n"
            f"unixsocket {self.dir / 'sentinel.sock'}\nunixsocketperm 700\n"
            f"sentinel monitor {self.master} {self.address} {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.master} {down_after_ms}\n"
            f"sentinel failover-timeout {self.master} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {self.master} 1\n"
        )
        self.server = ServerProcess(
            name="sentinel",
            namespace=self.namespace,
            argv=["redis-server", str(conf), "--sentinel"],
            log_path=self.dir / "server.log",
        ).start()
        wait_until(self.master_address, timeout=15, what="the private Sentinel")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.dir / "sentinel.sock"), socket_timeout=5, decode_responses=True)

    def master_address(self) -> tuple[str, int] | None:
        answer = self.client().execute_command("SENTINEL", "get-master-addr-by-name", self.master)
        return (answer[0], int(answer[1])) if answer else None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=5)


class PgBouncer:
    """A private PgBouncer in transaction pooling mode in front of the private cluster."""

    def __init__(self, *, root: Path, namespace: str, address: str, cluster: PostgresCluster, port: int = 6432):
        self.dir = root / "pgbouncer"
        self.namespace = namespace
        self.address = address
        self.port = port
        self.cluster = cluster
        self.server: ServerProcess | None = None

    def start(self, *, pool_size: int = 4) -> PgBouncer:
        self.dir.mkdir(parents=True, exist_ok=True)
        chown_to_server_user(self.dir)
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={self.cluster.socket_dir} port={self.cluster.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.address}\nlisten_port = {self.port}\nunix_socket_dir = {self.dir}\n"
            f"auth_type = trust\nauth_file = {self.dir / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
            "max_client_conn = 500\nadmin_users = postgres\nstats_users = postgres\nstats_period = 1\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\nserver_reset_query =\n"
        )
        for path in self.dir.iterdir():
            chown_to_server_user(path)
        self.server = ServerProcess(
            name="pgbouncer",
            namespace=self.namespace,
            argv=[pgbouncer_binary(), str(ini)],
            log_path=self.dir / "stdout.log",
            user=SERVER_USER,
        ).start()
        wait_until(lambda: self.admin("SHOW VERSION") is not None, timeout=15, what="the private PgBouncer")
        return self

    def url(self, database: str) -> str:
        return f"postgres://postgres@{self.address}:{self.port}/{database}"

    def admin(self, command: str) -> list[dict]:
        """A command on PgBouncer's admin console (over its Unix socket), rows as dicts."""
        conn = psycopg2.connect(host=str(self.dir), port=self.port, user="postgres", dbname="pgbouncer")
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(command)
                if cursor.description is None:
                    return []
                names = [c.name for c in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            conn.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=5)
