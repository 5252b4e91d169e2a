"""A real worker: its /metrics counts the tasks its pool children ran, and its JSON log lines,
like the webhook it sends, carry the id of the web request that started the work."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import factories as f
from tests.support.auth import authenticate
from tests.support.net import free_port
from tests.support.processes import WorkerProcess
from tests.support.webhooks import Receiver
from workers import names

pytestmark = [pytest.mark.worker]

QUEUE = f"observability-{os.getpid()}"


class MetricsWorker(WorkerProcess):
    """A worker on a queue of its own (plus `webhooks`), serving metrics, logging JSON lines."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        super().__init__(
            {**env, "WORKER_METRICS_PORT": str(port), "WORKER_METRICS_ADDR": "127.0.0.1", "LOG_FORMAT": "json"},
            f"{QUEUE},webhooks",
            ping_queue=QUEUE,
            name="metrics",
        )
        self.port = port

    def start(self) -> None:
        self.log_path.unlink(missing_ok=True)  # json_lines() reads this worker's lines only
        super().start()

    def scrape(self) -> dict:
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()
        return {family.name: family for family in text_string_to_metric_families(body)}

    def json_lines(self) -> list[dict]:
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


@pytest.fixture(scope="module")
def metrics_worker(worker_env: dict[str, str]):
    worker = MetricsWorker(worker_env, free_port())
    worker.start()
    yield worker
    worker.stop()


def _sample(families: dict, family: str, sample: str, **labels: str) -> float | None:
    for s in families.get(family).samples if family in families else []:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def _settled(worker: MetricsWorker, family: str, sample: str, expected: float | None = None, **labels: str) -> float:
    """The sample once it stops changing (or reaches `expected`): a task's result reaches the
    caller a moment before the task_postrun and task_failure signals record it."""
    deadline = time.monotonic() + 5
    last = None
    while time.monotonic() < deadline:
        current = _sample(worker.scrape(), family, sample, **labels) or 0
        if current == expected or (expected is None and current == last):
            return current
        last = current
        time.sleep(0.2)
    return current


@pytest.mark.django_db
def test_it_serves_the_task_durations_its_children_recorded(metrics_worker) -> None:
    from workers.celery import app

    labels = {"task": names.PING, "queue": QUEUE}
    count_of = ("recsvc_task_duration_seconds", "recsvc_task_duration_seconds_count")
    before = _settled(metrics_worker, *count_of, **labels)
    for _ in range(3):
        assert app.send_task(names.PING, queue=QUEUE).get(timeout=10) == "pong"

    count = _settled(metrics_worker, *count_of, expected=before + 3, **labels)
    assert count == before + 3
    families = metrics_worker.scrape()
    total = _sample(families, "recsvc_task_duration_seconds", "recsvc_task_duration_seconds_sum", **labels)
    assert 0 < total < 5
    inf = _sample(families, "recsvc_task_duration_seconds", "recsvc_task_duration_seconds_bucket", le="+Inf", **labels)
    assert inf == count
    assert _sample(families, "recsvc_task_runs", "recsvc_task_runs_total", state="SUCCESS", **labels) >= 3
    # A pool child ran the tasks and wrote the files; the main process served their sum.
    writers = {int(p.stem.rsplit("_", 1)[1]) for p in Path(_multiproc_dir(metrics_worker)).glob("histogram_*.db")}
    assert writers and metrics_worker.proc.pid not in writers


def _multiproc_dir(worker: MetricsWorker) -> str:
    for line in worker.json_lines():
        if line.get("logger") == "workers.metrics" and "directory" in line:
            return line["directory"]
    raise AssertionError("the worker did not log its metrics directory")


@pytest.mark.django_db
def test_it_counts_failures_per_task_and_queue(metrics_worker) -> None:
    from workers.celery import app

    labels = {"task": names.WEBHOOK_DELIVER, "queue": QUEUE}
    failures_of = ("recsvc_task_failures", "recsvc_task_failures_total")
    before = _settled(metrics_worker, *failures_of, **labels)
    with pytest.raises(ValueError):
        app.send_task(names.WEBHOOK_DELIVER, args=["not-an-id"], queue=QUEUE).get(timeout=10)
    assert _settled(metrics_worker, *failures_of, expected=before + 1, **labels) == before + 1
    families = metrics_worker.scrape()
    assert _sample(families, "recsvc_task_runs", "recsvc_task_runs_total", state="FAILURE", **labels) >= 1


@pytest.mark.django_db(transaction=True)
def test_it_ties_the_web_request_its_task_and_its_webhook_with_one_id(
    metrics_worker, api_client, settings, monkeypatch
) -> None:
    from workers.celery import app

    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    # The API routes the task to `recommendations`, where the session's shared worker may
    # listen too: send it to this worker's own queue instead, through the same code path.
    send_task = app.send_task
    monkeypatch.setattr(app, "send_task", lambda name, *a, **kw: send_task(name, *a, **{**kw, "queue": QUEUE}))

    job = f.job()
    f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    authenticate(api_client, job.client.user)
    secret = api_client.get("/api/v1/webhook-callback-secret/").json()["secret"]
    receiver = Receiver(200, secret=secret)
    rid = "abc123"  # the log file is this run's own: no other line carries it
    try:
        response = api_client.post(
            f"/api/v1/jobs/{job.pk}/recommendations/",
            {"callback_url": receiver.url},
            format="json",
            HTTP_X_REQUEST_ID=rid,
        )
        assert response.status_code == 202, response.content
        assert response["X-Request-ID"] == rid
        [webhook] = receiver.wait_for(1)
    finally:
        receiver.close()
    assert webhook.verify_error == ""
    assert webhook.headers["X-Request-ID"] == rid

    task_id = response.json()["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = [line for line in metrics_worker.json_lines() if line.get("request_id") == rid]
        if any(line.get("task_id") == task_id and "succeeded" in line["message"] for line in mine):
            break
        time.sleep(0.1)
    assert any(line.get("task_id") == task_id and "succeeded" in line["message"] for line in mine), mine
    assert {line["logger"] for line in mine} >= {"celery.app.trace"}
    assert {"time", "level", "logger", "message", "request_id", "task_id"} <= set(mine[0])
