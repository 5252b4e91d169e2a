"""What the steps share: manage.py and probe processes, the web and worker under test, timed loops.

Only the standard library at import time, so the scoring probe's process can use it too; this
process sets Django up only once the web and the worker run (`web_and_worker`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
T = TypeVar("T")

# scripts/start-worker.sh's worker, on the recommendations queue only, with one child.
WORKER = [
    PY,
    "-m",
    "celery",
    "-A",
    "workers.celery",
    "worker",
    "-Q",
    "recommendations",
    "-c",
    "1",
    "--prefetch-multiplier=1",
    "--without-gossip",
    "--without-mingle",
    "-n",
    "bench@%h",
    "-l",
    "WARNING",
]


def manage(env: dict, *args: str) -> tuple[str, float]:
    """Run one manage.py command; its output and its wall time in seconds."""
    t = time.perf_counter()
    out = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout, time.perf_counter() - t


def database_beside(env: dict, suffix: str) -> dict:
    """The environment of a new, empty database beside the bench one: `<bench db>_<suffix>` on
    PostgreSQL, `var/bench-<suffix>.sqlite3` else. `database_drop` removes it."""
    url = env["DATABASE_URL"]
    if url.startswith("postgres"):
        base, name = url.rsplit("/", 1)
        for sql in (f"DROP DATABASE IF EXISTS {name}_{suffix}", f"CREATE DATABASE {name}_{suffix}"):
            subprocess.run(["psql", f"{base}/postgres", "-qc", sql], check=True)
        return {**env, "DATABASE_URL": f"{url}_{suffix}"}
    db = ROOT / "var" / f"bench-{suffix}.sqlite3"
    for end in ("", "-wal", "-shm"):
        db.with_name(db.name + end).unlink(missing_ok=True)
    return {**env, "DATABASE_URL": f"sqlite:///{db}"}


def database_drop(env: dict) -> None:
    """Drop a PostgreSQL database made by `database_beside` (a SQLite file is left for the next run)."""
    url = env["DATABASE_URL"]
    if url.startswith("postgres"):
        base, name = url.rsplit("/", 1)
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)


def run_probe(env: dict, module: str) -> dict:
    """Run `python -m module` in a process of its own; the JSON it printed after `RESULT=`."""
    out = subprocess.run([PY, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT=")]
    if not line:
        raise SystemExit(f"{module.rsplit('.', 1)[-1]} probe failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(line[0][7:])


def timings_ms(
    call: Callable[[], T], n: int = 300, warmup: int = 0, check: Callable[[T], object] | None = None
) -> list[float]:
    """`n` timed calls after `warmup` untimed ones, in milliseconds; `check` sees each result, untimed."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        result = call()
        out.append((time.perf_counter() - t) * 1000)
        if check is not None:
            check(result)
    return out


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(method: str, url: str, token: str = "", data: bytes | None = None) -> tuple[int, bytes]:
    """One request on a new connection, as a simple client makes it: the status and the body as received."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"} if token else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.read()


def http_json(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    status, answer = exchange(method, url, token, json.dumps(body).encode() if body is not None else None)
    return status, json.loads(answer)


class WebAndWorker:
    """gunicorn as scripts/start-web.sh runs it (one process of 8 threads, on a free port) and one worker."""

    def __init__(self, env: dict, log: IO[str]) -> None:
        # The worker's metrics server would take the settings' fixed port, which another run on this
        # machine may hold: a free one of its own, on loopback.
        self.env = {**env, "WORKER_METRICS_PORT": str(free_port()), "WORKER_METRICS_ADDR": "127.0.0.1"}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app: Any = None  # the Celery app, once Django is set up in this process
        self._log = log
        self.web = subprocess.Popen(
            [
                PY,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                *(["--worker-tmp-dir", "/dev/shm"] if os.path.isdir("/dev/shm") else []),
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                "8",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        self.worker = self._start_worker()

    def _start_worker(self, *extra: str) -> subprocess.Popen:
        return subprocess.Popen([*WORKER, *extra], cwd=ROOT, env=self.env, stdout=self._log, stderr=self._log)

    def wait_until_up(self) -> None:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        os.environ.update({k: self.env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
        import django

        django.setup()
        from workers.celery import app

        self.app = app
        self.ping_worker()

    def ping_worker(self) -> None:
        """Return once the worker answers: it is up."""
        from workers import names

        self.app.send_task(names.PING).get(timeout=60)

    def restart_worker(self, *extra: str) -> None:
        """A fresh worker process, with `extra` arguments, up when this returns."""
        self.worker.terminate()
        self.worker.wait(timeout=30)
        self.worker = self._start_worker(*extra)
        self.ping_worker()

    def stop(self) -> None:
        for p in (self.web, self.worker):
            p.terminate()
        for p in (self.web, self.worker):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@contextmanager
def web_and_worker(env: dict) -> Iterator[WebAndWorker]:
    """Both processes started and answering; stopped on the way out. Their output: var/bench-processes.log."""
    with open(ROOT / "var" / "bench-processes.log", "w") as log:
        processes = WebAndWorker(env, log)
        try:
            processes.wait_until_up()
            yield processes
        finally:
            processes.stop()
