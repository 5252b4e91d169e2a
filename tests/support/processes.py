"""Real Celery worker processes: the session's shared worker, and workers of a test's own.

Async paths go through a real worker process over Redis, never eager mode. The session's
worker consumes every queue but `training`; a test that kills a worker, trains on one or
reads one's logs starts its own on a private queue, so the shared worker never takes its tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT

WORKER_QUEUES = ("recommendations", "feedback", "webhooks", "maintenance")


class WorkerProcess:
    """A real Celery worker process for the tests.

    `ping_queue`: where readiness is checked; a worker on a private queue checks there, since
    another worker may answer a ping on the default queue first. `name` prefixes the hostname
    and the log file (`var/test-<name>-<pid>.log`, appended to).
    """

    def __init__(
        self, env: dict[str, str], queues: str, *, ping_queue: str | None = None, name: str = "worker"
    ) -> None:
        self.env = env
        self.queues = queues
        self.ping_queue = ping_queue
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / "var" / f"test-{name}-{os.getpid()}.log"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery",
                "worker",
                "--loglevel=INFO",
                f"--queues={self.queues}",
                "--concurrency=1",
                "--prefetch-multiplier=1",
                "--without-gossip",
                "--without-mingle",
                f"--hostname={self.name}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        from workers import names
        from workers.celery import app

        options = {"queue": self.ping_queue} if self.ping_queue else {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {self.log_path}")
            try:
                app.send_task(names.PING, **options).get(timeout=5)
                return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"worker did not answer within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and children), as a crash would."""
        if self.proc and self.proc.poll() is None:
            subprocess.run(["pkill", "-KILL", "-P", str(self.proc.pid)], check=False)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class PrivateQueueWorker(WorkerProcess):
    """A worker that alone consumes `queue`: the session worker never takes its tasks."""

    def __init__(self, env: dict[str, str], queue: str) -> None:
        # A ping on our private queue can only be answered by this worker.
        super().__init__(env, queue, ping_queue=queue, name="private")
        self.queue = queue


def _test_database_url() -> str:
    """The URL of the test database pytest-django created, for processes we start."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker, models_dir: Path) -> dict[str, str]:
    """The environment of every worker the tests start: the test database and the session's models."""
    from django.conf import settings

    with django_db_blocker.unblock():
        url = _test_database_url()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "RECOMMENDATION_MODELS_DIR": str(models_dir),
        "PYTHONUNBUFFERED": "1",
        # The webhook tests' receivers listen on 127.0.0.1, and their retries must be quick.
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEBHOOK_RETRY_SCHEDULE": "0.1,0.1,0.1",
        # Several test workers (and test runs) share this host: no fixed metrics port for them.
        "WORKER_METRICS_PORT": "0",
    }


@pytest.fixture(scope="session")
def celery_worker_process(worker_env: dict[str, str]):
    """A real worker process on the test database; shared by the session."""
    from workers.celery import app

    app.control.purge()
    worker = WorkerProcess(worker_env, ",".join(WORKER_QUEUES))
    worker.start()
    yield worker
    worker.stop()


def _unacked_on_our_queues(redis) -> int:
    """Messages the worker holds (running, or waiting for a countdown) from the session's queues.

    kombu keeps them in the `unacked` hash as [message, exchange, routing_key]; other tests'
    private workers leave theirs there too, which must not count.
    """
    count = 0
    for raw in redis.hvals("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        count += routing_key in WORKER_QUEUES
    return count


def _drain(timeout: float = 30) -> None:
    """Return once the worker has nothing left to do: no queued, reserved or running task.

    The worker answers a client before it writes its rows, and sends webhooks after; a test
    that ends on the answer would otherwise flush the database under the worker's writes.
    """
    from workers import names
    from workers.celery import app

    redis = app.connection_for_write().default_channel.client
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.send_task(names.PING).get(timeout=timeout)  # one process: everything before it is done
        queued = sum(redis.llen(q) for q in WORKER_QUEUES)
        if queued == 0 and _unacked_on_our_queues(redis) == 0:
            return
        time.sleep(0.05)
    raise RuntimeError("the test worker did not go idle")


@pytest.fixture
def celery_worker(celery_worker_process, transactional_db):
    """The session's worker, for one transactional test; idle again before the database is flushed."""
    yield celery_worker_process
    _drain()
