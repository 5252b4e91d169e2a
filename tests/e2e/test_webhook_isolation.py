"""A hung and a refusing receiver of one account delay nobody else: `make run`'s processes, for real.

The web and the Celery workers run exactly as `make run` starts them (scripts/dev.py), on the
test database and a throwaway Redis of this test's own (the session's worker never sees these
queues). Account A registers a receiver that accepts connections and never answers, and one
whose port refuses connections; account B a healthy one. While A's deliveries time out and
fail, B's webhook arrives within a few seconds, every recommendation answers its long-poll,
the hung receiver never holds more than its slots, and both of A's receivers trip their
circuit breaker — which closes again once the refused port starts answering.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery

from app.common import redis_client
from app.webhooks import receivers
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from scripts import dev
from scripts.embedded import embedded_redis
from tests import factories as f
from tests.support import ROOT
from tests.support.live import live_web
from tests.support.net import free_port
from tests.support.waiting import wait_until
from workers import names

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

A_REQUESTS = 16
SLOTS = 2  # WEBHOOK_RECEIVER_CONCURRENCY below
# Generous: B's webhook and every answer come in well under a second when nothing is in the way.
PROMPT = 10.0


@dataclass
class Stack:
    port: int
    redis_url: str


def _start(name: str, command: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "ab")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_ready(url: str, queue: str, proc: subprocess.Popen, log: Path) -> None:
    probe = Celery(broker=url, backend=url)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"worker exited:\n{log.read_text(errors='replace')[-3000:]}"
        try:
            probe.send_task(names.PING, queue=queue).get(timeout=3)
            return
        except Exception:
            time.sleep(0.2)
    raise AssertionError(f"no worker answered on {queue}:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def stack(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    with embedded_redis(data_dir=tmp_path / "redis") as url:
        env = {
            **worker_env,
            "REDIS_URL": url,
            "CELERY_BROKER_URL": url,
            "CELERY_RESULT_BACKEND": url,
            "WEBHOOK_TIMEOUT": "3",
            "WEBHOOK_CONNECT_TIMEOUT": "1",
            "WEBHOOK_RECEIVER_CONCURRENCY": str(SLOTS),
            "WEBHOOK_BREAKER_FAILURES": "3",
            "WEBHOOK_BREAKER_COOLDOWN": "3",
            # Quick retries, over a span long enough that none fails for waiting behind a breaker.
            "WEBHOOK_RETRY_SCHEDULE": ",".join(["0.2"] * 29 + ["3600"]),
        }
        workers = {name: cmd for name, cmd in dev.worker_commands().items() if name != "trainer"}
        procs = {name: _start(name, cmd, env, tmp_path) for name, cmd in workers.items()}
        try:
            for name, queue in (("worker", "recommendations"), ("webhooks", "webhooks")):
                _wait_ready(url, queue, procs[name], tmp_path / f"{name}.log")
            with live_web(env, tmp_path, how="dev.py") as web:
                yield Stack(port=web.port, redis_url=url)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    os.killpg(proc.pid, 15)
            for proc in procs.values():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()


def _call(stack: Stack, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def _ask(stack: Stack, token: str, job_id: int) -> str:
    status, body = _call(stack, "POST", f"/api/v1/jobs/{job_id}/recommendations/", token, {"limit": 3})
    assert status == 202, body
    return body["id"]


def _long_poll(stack: Stack, token: str, request_id: str) -> tuple[str, float]:
    started = time.monotonic()
    _, body = _call(stack, "GET", f"/api/v1/recommendation-requests/{request_id}/?wait={PROMPT:g}", token)
    return body["status"], time.monotonic() - started


def _account_with_jobs(count: int):
    owner = f.client()
    prop = f.property_(owner)
    jobs = [f.job(owner=owner, prop=prop) for _ in range(count)]
    f.cleaner(home_lat=prop.lat, home_lng=prop.lng)
    return owner.user, f.token(owner.user), jobs


def test_a_hung_and_a_refusing_receiver_delay_no_other_account(stack, hung_receiver, make_receiver, settings) -> None:
    a_user, a_token, a_jobs = _account_with_jobs(A_REQUESTS)
    refused_port = free_port()  # nothing listens there
    WebhookEndpoint.objects.create(owner=a_user, url=hung_receiver.url)
    WebhookEndpoint.objects.create(owner=a_user, url=f"http://127.0.0.1:{refused_port}/hook")
    b_user, b_token, [b_job] = _account_with_jobs(1)
    healthy = make_receiver(200)
    WebhookEndpoint.objects.create(owner=b_user, url=healthy.url)

    a_requests = [_ask(stack, a_token, job.pk) for job in a_jobs]
    # A's deliveries are queued and hanging before B asks.
    wait_until(lambda: hung_receiver.connections >= SLOTS, timeout=30, what="A's deliveries under way")
    started = time.monotonic()
    b_request = _ask(stack, b_token, b_job.pk)

    b_status, b_waited = _long_poll(stack, b_token, b_request)
    healthy.wait_for(1, timeout=PROMPT)
    b_webhook = time.monotonic() - started
    answers = [_long_poll(stack, a_token, r) for r in a_requests]

    print(
        f"B: answer in {b_waited:.2f} s, webhook in {b_webhook:.2f} s; A's answers: max {max(w for _, w in answers):.2f} s"
    )
    assert b_status == "succeeded"
    assert healthy.requests[0].payload["data"]["id"] == b_request
    assert [s for s, _ in answers] == ["succeeded"] * A_REQUESTS
    assert hung_receiver.most_at_once <= SLOTS, "a hung receiver holds its slots, no more"

    # Both of A's receivers trip their breaker: their deliveries wait, unattempted.
    settings.REDIS_URL = stack.redis_url
    redis_client.client.cache_clear()
    try:
        hung, refused = receivers.receiver_origin(hung_receiver.url), f"http://127.0.0.1:{refused_port}"
        wait_until(
            lambda: {r["origin"] for r in receivers.receivers_tripped()} >= {hung, refused},
            timeout=30,
            what="both of A's breakers open",
        )
        assert receivers.receiver_origin(healthy.url) not in {r["origin"] for r in receivers.receivers_tripped()}

        back = make_receiver(200, port=refused_port)  # the refusing receiver comes back
        back.wait_for(1, timeout=30)
        wait_until(
            lambda: refused not in {r["origin"] for r in receivers.receivers_tripped()},
            timeout=30,
            what="the breaker closed again",
        )
        wait_until(
            lambda: not WebhookDelivery.objects.filter(url__contains=f":{refused_port}/", status="pending").exists(),
            timeout=60,
            what="A's deliveries to the revived receiver settled",
        )
    finally:
        redis_client.client.cache_clear()
    assert WebhookDelivery.objects.filter(url__contains=f":{refused_port}/", status="delivered").exists()
