"""A worker of our own, on a private queue, for the tests that kill one."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import WorkerProcess


class PrivateQueueWorker(WorkerProcess):
    """A worker that alone consumes `queue`: the session worker never takes its tasks."""

    def __init__(self, env: dict[str, str], queue: str) -> None:
        super().__init__(env, queue)
        self.queue = queue

    def wait_ready(self, timeout: float = 60) -> None:
        # The base class pings the `recommendations` queue, which the session worker may
        # answer first; a ping on our private queue can only be answered by this worker.
        from workers import names
        from workers.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {self.log_path}")
            try:
                app.send_task(names.PING, queue=self.queue).get(timeout=5)
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        raise RuntimeError(f"worker did not answer within {timeout}s; see {self.log_path}")


@pytest.fixture
def private_queue() -> str:
    return f"feedback-test-{uuid.uuid4().hex[:12]}"
