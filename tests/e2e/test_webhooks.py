"""Finished requests reach their receivers through the real worker, signed and retried.

The worker reads its settings from the environment `worker_env` gives it: receivers on
127.0.0.1 allowed, and retries 0.1 s apart.
"""

from __future__ import annotations

import time

import pytest

from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _settled(deliveries: int, timeout: float = 20) -> list[WebhookDelivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(WebhookDelivery.objects.order_by("id"))
        if len(rows) == deliveries and all(d.status != WebhookDelivery.Status.PENDING for d in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"deliveries not settled in {timeout}s: {list(WebhookDelivery.objects.values())}")


def _client_with_job(api_client):
    job = f.job()
    f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    authenticate(api_client, job.client.user)
    return job, api_client


def test_it_delivers_a_finished_request_to_its_callback_url(
    celery_worker, api_client, allow_local, make_receiver
) -> None:
    job, client = _client_with_job(api_client)
    secret = client.get("/api/v1/webhook-callback-secret/").json()["secret"]
    receiver = make_receiver(200, secret=secret)

    started = time.monotonic()
    resp = client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"callback_url": receiver.url}, format="json")
    assert resp.status_code == 202, resp.content
    [got] = receiver.wait_for(1)
    latency_ms = (time.monotonic() - started) * 1000

    assert got.verify_error == ""
    assert got.verified["type"] == "recommendation_request.finished"
    data = got.verified["data"]
    assert data["id"] == resp.json()["id"] and data["status"] == "succeeded"
    assert len(data["result"]["cleaners"]) == 1
    assert data == client.get(resp.json()["status_url"]).json()
    [delivery] = _settled(1)
    assert (delivery.status, delivery.attempts, got.headers["webhook-id"]) == ("delivered", 1, delivery.msg_id)
    print(f"POST to signed callback received: {latency_ms:.0f} ms")


def test_it_delivers_to_registered_endpoints_too(celery_worker, api_client, allow_local, make_receiver) -> None:
    job, client = _client_with_job(api_client)
    callback = make_receiver(200, secret=client.get("/api/v1/webhook-callback-secret/").json()["secret"])
    endpoint = make_receiver(200)
    endpoint.secret = client.post("/api/v1/webhook-endpoints/", {"url": endpoint.url}, format="json").json()["secret"]
    strangers = make_receiver(200)
    WebhookEndpoint.objects.create(owner=f.user(), url=strangers.url)

    resp = client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"callback_url": callback.url}, format="json")

    _settled(2)
    [to_callback], [to_endpoint] = callback.requests, endpoint.requests
    assert to_callback.verified["data"]["id"] == to_endpoint.verified["data"]["id"] == resp.json()["id"]
    assert to_callback.headers["webhook-id"] != to_endpoint.headers["webhook-id"]
    assert strangers.requests == []


def test_it_retries_until_the_receiver_answers_2xx(celery_worker, api_client, allow_local, make_receiver) -> None:
    job, client = _client_with_job(api_client)
    receiver = make_receiver(500, 502, 200, secret=client.get("/api/v1/webhook-callback-secret/").json()["secret"])

    client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"callback_url": receiver.url}, format="json")

    [delivery] = _settled(1)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [
        500,
        502,
        200,
    ]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.msg_id] * 3
    assert all(r.verified for r in receiver.requests)


def test_it_disables_an_endpoint_that_answers_410(celery_worker, api_client, allow_local, make_receiver) -> None:
    job, client = _client_with_job(api_client)
    gone = make_receiver(410)
    endpoint_id = client.post("/api/v1/webhook-endpoints/", {"url": gone.url}, format="json").json()["id"]

    client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json")

    [delivery] = _settled(1)
    assert delivery.status == "disabled" and len(gone.requests) == 1
    body = client.get(f"/api/v1/webhook-endpoints/{endpoint_id}/").json()
    assert body["is_active"] is False and "410 Gone" in body["disabled_reason"]
