"""`?wait=N`: the answer is held until the request is done or N passes, on a pub/sub channel."""

import threading
import time
import uuid

import pytest

from app.recommendations import results
from app.recommendations.models import RecommendationRequest
from tests import factories as f
from tests.support.auth import authenticate

CLEANERS = RecommendationRequest.Kind.CLEANERS_FOR_JOB


def _publish_later(request_id: str, delay: float, payload: dict) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), results.result_publish(request_id, payload)))
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_one_long_poll_returns_the_finished_request(celery_worker, api_client) -> None:
    job = f.job()
    f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    authenticate(api_client, job.client.user)
    status_url = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 3}, format="json").json()[
        "status_url"
    ]

    started = time.monotonic()
    resp = api_client.get(status_url, {"wait": 20})

    assert resp.status_code == 200
    assert resp.json()["status"] == "succeeded" and resp.json()["result"]["cleaners"]
    assert time.monotonic() - started < 15


@pytest.mark.django_db
def test_a_long_poll_on_an_unfinished_request_answers_its_state_when_the_wait_is_over(api_client) -> None:
    job = f.job()
    req = RecommendationRequest.objects.create(kind=CLEANERS, requested_by=job.client.user, job=job)  # never enqueued
    authenticate(api_client, job.client.user)

    started = time.monotonic()
    resp = api_client.get(f"/api/v1/recommendation-requests/{req.pk}/", {"wait": 0.5})

    assert resp.status_code == 200 and resp.json()["status"] == "queued"
    assert 0.5 <= time.monotonic() - started < 3


@pytest.mark.django_db
def test_a_long_poll_wakes_when_the_answer_is_published(api_client) -> None:
    job = f.job()
    req = RecommendationRequest.objects.create(kind=CLEANERS, requested_by=job.client.user, job=job)
    authenticate(api_client, job.client.user)
    publisher = _publish_later(str(req.pk), 0.3, {"id": str(req.pk), "status": "succeeded", "result": {"x": 1}})

    started = time.monotonic()
    resp = api_client.get(f"/api/v1/recommendation-requests/{req.pk}/", {"wait": 10})

    publisher.join()
    assert resp.json()["status"] == "succeeded" and resp.json()["result"] == {"x": 1}
    assert time.monotonic() - started < 5


def test_waits_reuse_the_threads_connection_and_skip_an_earlier_channels_messages() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert results.result_wait(first, 0.05) is None
    pubsub, _ = results._pubsub()
    connection = pubsub.connection
    # A message for an earlier wait's channel, still in the connection when the next wait starts.
    pubsub.subscribe(results.CHANNEL.format(id=first).encode())
    results.result_publish(first, {"id": first})
    publisher = _publish_later(second, 0.2, {"id": second})

    found = results.result_wait(second, 5)

    publisher.join()
    assert found == {"id": second}
    assert results._pubsub()[0] is pubsub and pubsub.connection is connection


def test_a_wait_after_the_connection_broke_opens_a_new_one() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert results.result_wait(first, 0.05) is None
    results._pubsub()[0].connection.disconnect()
    publisher = _publish_later(second, 0.2, {"id": second})

    assert results.result_wait(second, 5) == {"id": second}
    publisher.join()


def test_a_wait_after_redis_restarted_succeeds_on_a_new_connection(settings, tmp_path) -> None:
    """The thread's kept connection died with the server; the next wait must not fail for it."""
    from app.common import redis_client
    from scripts.embedded import embedded_redis
    from tests.support.net import free_port

    port, real = free_port(), settings.REDIS_URL
    try:
        with embedded_redis(tmp_path, port=port) as url:
            settings.REDIS_URL = url
            redis_client.client.cache_clear()
            results._local.pubsub = None
            assert results.result_wait(str(uuid.uuid4()), 0.05) is None  # the thread now keeps a connection
        with embedded_redis(tmp_path, port=port):  # the same address, a new server
            request_id = str(uuid.uuid4())
            publisher = _publish_later(request_id, 0.2, {"id": request_id})
            assert results.result_wait(request_id, 5) == {"id": request_id}
            publisher.join()
    finally:
        settings.REDIS_URL = real
        redis_client.client.cache_clear()
        results._local.pubsub = None


@pytest.mark.django_db
def test_a_long_poll_while_redis_is_unreachable_is_a_503_problem(api_client, redis_unreachable) -> None:
    job = f.job()
    req = RecommendationRequest.objects.create(kind=CLEANERS, requested_by=job.client.user, job=job)
    authenticate(api_client, job.client.user)

    resp = api_client.get(f"/api/v1/recommendation-requests/{req.pk}/", {"wait": 1})

    assert resp.status_code == 503
    assert resp["Content-Type"] == "application/problem+json"
    assert "unavailable" in resp.json()["detail"]


def test_waiting_again_on_the_same_request_wakes_at_once() -> None:
    request_id = str(uuid.uuid4())
    assert results.result_wait(request_id, 0.05) is None  # its UNSUBSCRIBE's reply is still unread
    publisher = _publish_later(request_id, 0.2, {"id": request_id})

    started = time.monotonic()
    found = results.result_wait(request_id, 5)

    publisher.join()
    assert found == {"id": request_id}
    assert time.monotonic() - started < 1  # woken by the message, not by the last second's re-read
