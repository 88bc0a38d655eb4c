"""The test bed's network: Linux network namespaces joined by veth pairs to one bridge.

The "services" namespace holds the bridge (10.77.0.1/24) and the shared services; each host
namespace has one ``eth0`` whose peer (``v-<label>``) is a port of that bridge. Cutting a host off
brings its bridge port down: its packets are dropped silently, as when a switch port or a cable
fails, so its open connections hang rather than fail (the hard case for liveness and fencing).
Nothing is added to the machine's own network namespace, so the subnet cannot clash with it.

Names carry the pid of the test process (``mh<pid>-<label>``): a later run removes what a killed
run left behind (its processes are SIGKILLed by pid, its namespaces deleted).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

SUBNET = "10.77.0"
SERVICES_ADDRESS = f"{SUBNET}.1"
_NAME = re.compile(r"^mh(\d+)-(\w+)$")


def run_ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if shutil.which("ip") is None:
        return "the `ip` command (Debian's iproute2) is missing: run `make multihost-tools`"
    if os.geteuid() != 0:
        return "network namespaces need root (the test bed runs as root in CI)"
    probe = f"mh{os.getpid()}-probe"
    made = run_ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    try:
        veth = run_ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False)
        if veth.returncode != 0:
            return f"veth pairs are not permitted here: {veth.stderr.strip()}"
    finally:
        run_ip("netns", "del", probe, check=False)
    return None


def namespace_pids(namespace: str) -> list[int]:
    listed = run_ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in listed.stdout.split()] if listed.returncode == 0 else []


def kill_namespace_processes(namespace: str, *, sig: int = signal.SIGKILL) -> list[int]:
    """Signal every process running in ``namespace`` (ours: the bed started them there)."""
    pids = namespace_pids(namespace)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return pids


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces() -> list[str]:
    """Delete the namespaces (and kill the processes) of test runs that died without cleaning up."""
    listed = run_ip("netns", "list", check=False).stdout.split("\n")
    removed = []
    for line in listed:
        name = line.split(" ")[0].strip()
        match = _NAME.match(name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        kill_namespace_processes(name)
        run_ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


class Network:
    """A services namespace with a bridge, and host namespaces plugged into it."""

    def __init__(self, *, prefix: str | None = None):
        self.prefix = prefix or f"mh{os.getpid()}"
        self.services = f"{self.prefix}-svc"
        self.hosts: dict[str, str] = {}  # label → namespace
        self.addresses: dict[str, str] = {}  # label → address
        self._created: list[str] = []

    def create(self) -> Network:
        self._add_namespace(self.services)
        svc = ("-n", self.services)
        run_ip(*svc, "link", "add", "br0", "type", "bridge")
        run_ip(*svc, "addr", "add", f"{SERVICES_ADDRESS}/24", "dev", "br0")
        run_ip(*svc, "link", "set", "br0", "up")
        return self

    def _add_namespace(self, name: str) -> None:
        run_ip("netns", "add", name)
        self._created.append(name)
        run_ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, label: str) -> str:
        """A host namespace with ``eth0`` at 10.77.0.(10 + n) on the bridge; returns its address."""
        namespace = f"{self.prefix}-{label}"
        address = f"{SUBNET}.{10 + len(self.hosts) + 1}"
        self._add_namespace(namespace)
        run_ip(
            "-n",
            namespace,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            self.port(label),
            "netns",
            self.services,
        )
        run_ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        run_ip("-n", namespace, "link", "set", "eth0", "up")
        run_ip("-n", self.services, "link", "set", self.port(label), "master", "br0")
        run_ip("-n", self.services, "link", "set", self.port(label), "up")
        self.hosts[label] = namespace
        self.addresses[label] = address
        return address

    @staticmethod
    def port(label: str) -> str:
        return f"v-{label}"[:15]

    def cut(self, label: str) -> None:
        """Cut the host off: its bridge port goes down, its packets are dropped from now on."""
        run_ip("-n", self.services, "link", "set", self.port(label), "down")

    def restore(self, label: str) -> None:
        run_ip("-n", self.services, "link", "set", self.port(label), "up")

    def wait_reachable(self, label: str, address: str, port: int, *, timeout: float = 10.0) -> None:
        """Wait until ``address:port`` accepts a TCP connection from the host's namespace."""
        namespace = self.hosts[label]
        probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=1).close()"
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(["ip", "netns", "exec", namespace, "python3", "-c", probe], capture_output=True)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{address}:{port} not reachable from {label}: {done.stderr.decode()[-300:]}")
            time.sleep(0.2)

    def destroy(self) -> None:
        """Kill every process in the bed's namespaces, then delete them (veth pairs go with them)."""
        for name in reversed(self._created):
            kill_namespace_processes(name)
        for name in reversed(self._created):
            for _ in range(20):
                if run_ip("netns", "del", name, check=False).returncode == 0:
                    break
                kill_namespace_processes(name)
                time.sleep(0.1)
        self._created.clear()
