"""A worker of our own, on a private queue, for the tests that kill one or train on one."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import WorkerProcess


class PrivateQueueWorker(WorkerProcess):
    """A worker that alone consumes `queue`: the session worker never takes its tasks."""

    def __init__(self, env: dict[str, str], queue: str) -> None:
        # A ping on our private queue can only be answered by this worker.
        super().__init__(env, queue, ping_queue=queue, name="private")
        self.queue = queue


@pytest.fixture
def private_queue() -> str:
    return f"feedback-test-{uuid.uuid4().hex[:12]}"
