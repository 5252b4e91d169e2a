"""Each receiver's slots and circuit breaker, in the real Redis, against real receivers on 127.0.0.1.

Attempts run in this process (as in test_delivery.py); the one thing replaced is `_enqueue`,
so deferrals and retries are recorded instead of sent to the shared broker. The path through
a real worker, with a hung and a refusing receiver beside a healthy one, is
tests/e2e/test_webhook_isolation.py.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from app.common.redis_client import client as redis_client
from app.webhooks import receivers, services
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests import factories as f
from tests.support.net import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    sent: list[tuple[int, float | None]] = []
    monkeypatch.setattr(services, "_enqueue", lambda pk, countdown=None: sent.append((pk, countdown)))
    return sent


@pytest.fixture
def breaker(settings) -> None:
    """Three failures in a row open it for a second; retries at once (within an hour's schedule); two slots per receiver."""
    settings.WEBHOOK_BREAKER_FAILURES = 3
    settings.WEBHOOK_BREAKER_COOLDOWN = 1
    settings.WEBHOOK_RETRY_SCHEDULE = [0] * 19 + [3600]  # at once, over a span of an hour
    settings.WEBHOOK_RECEIVER_CONCURRENCY = 2
    settings.WEBHOOK_TIMEOUT = 2


def _delivery(url: str, n: int = 0) -> WebhookDelivery:
    endpoint = WebhookEndpoint.objects.create(owner=f.user(), url=url)
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        url=url,
        event_type="test.event",
        msg_id=f"msg_test_{n}_{endpoint.pk}",
        payload={"n": n},
        next_attempt_at=timezone.now(),
    )


def _attempt(delivery: WebhookDelivery, capture) -> str:
    """One attempt now, whatever the due time said: what the receivers admit is under test."""
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING).update(next_attempt_at=timezone.now())
    with capture(execute=True):
        outcome = services.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return outcome


def _tripped() -> dict[str, dict]:
    return {r["origin"]: r for r in receivers.receivers_tripped()}


class TestBreaker:
    def test_it_opens_after_failures_in_a_row_and_attempts_nothing_while_open(
        self, allow_local, breaker, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connection refused
        delivery = _delivery(url)

        assert [_attempt(delivery, django_capture_on_commit_callbacks) for _ in range(3)] == ["retrying"] * 3
        origin = receivers.receiver_origin(url)
        assert _tripped()[origin]["state"] == "open"
        assert _tripped()[origin]["failures"] == 3
        assert _tripped()[origin]["last_error"].startswith("ConnectionRefusedError")

        enqueued.clear()
        before = timezone.now()
        assert _attempt(delivery, django_capture_on_commit_callbacks) == "deferred (open)"

        assert WebhookAttempt.objects.filter(delivery=delivery).count() == 3, "nothing sent while open"
        assert (delivery.status, delivery.attempts) == (Status.PENDING, 3), "a deferral counts no attempt"
        assert delivery.next_attempt_at >= before + timedelta(seconds=0.5)
        assert delivery.enqueued_at is not None
        [(pk, countdown)] = enqueued
        assert pk == delivery.pk and 0.5 <= countdown <= 3.5
        # The same message again (redelivered): the row is not due, so nothing changes.
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"
        assert WebhookDelivery.objects.filter(
            pk=delivery.pk, attempts=3, next_attempt_at=delivery.next_attempt_at
        ).exists()

    def test_a_delivery_kept_waiting_past_the_retry_schedule_fails(
        self, allow_local, breaker, django_capture_on_commit_callbacks, enqueued, settings
    ) -> None:
        url = f"http://127.0.0.1:{free_port()}/hook"
        opener = _delivery(url, n=1)
        for _ in range(3):
            _attempt(opener, django_capture_on_commit_callbacks)
        old = _delivery(url, n=2)
        span = timedelta(seconds=sum(settings.WEBHOOK_RETRY_SCHEDULE) + 1)
        WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - span)

        assert _attempt(old, django_capture_on_commit_callbacks) == Status.FAILED

        assert (old.status, old.attempts, old.next_attempt_at) == (Status.FAILED, 0, None)
        [attempt] = WebhookAttempt.objects.filter(delivery=old)
        assert attempt.error.startswith("not sent: its receiver was not admitting deliveries (open)")

    def test_a_probe_after_the_cool_down_closes_it_when_the_receiver_answers(
        self, allow_local, breaker, make_receiver, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/hook"
        delivery = _delivery(url)
        for _ in range(3):
            _attempt(delivery, django_capture_on_commit_callbacks)
        origin = receivers.receiver_origin(url)
        assert _tripped()[origin]["state"] == "open"

        receiver = make_receiver(200, port=port)  # the receiver is back
        wait_until(lambda: _tripped()[origin]["state"] == "half-open", timeout=5, what="the cool-down")
        assert _attempt(delivery, django_capture_on_commit_callbacks) == Status.DELIVERED

        assert len(receiver.requests) == 1
        assert origin not in _tripped()
        later = _delivery(url, n=1)
        assert _attempt(later, django_capture_on_commit_callbacks) == Status.DELIVERED

    def test_a_failed_probe_opens_it_again(
        self, allow_local, breaker, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        url = f"http://127.0.0.1:{free_port()}/hook"
        delivery = _delivery(url)
        for _ in range(3):
            _attempt(delivery, django_capture_on_commit_callbacks)
        origin = receivers.receiver_origin(url)
        wait_until(lambda: _tripped()[origin]["state"] == "half-open", timeout=5, what="the cool-down")

        assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"  # the probe, refused

        row = _tripped()[origin]
        assert (row["state"], row["failures"]) == ("open", 4)
        assert _attempt(delivery, django_capture_on_commit_callbacks) == "deferred (open)"

    def test_any_http_answer_resets_the_count(
        self, allow_local, breaker, make_receiver, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/hook"
        delivery = _delivery(url)
        for _ in range(2):
            _attempt(delivery, django_capture_on_commit_callbacks)
        make_receiver(500, port=port)  # answers: reachable, even if unhappy
        assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"
        assert WebhookAttempt.objects.filter(delivery=delivery).last().status_code == 500
        failures_key = receivers._keys(receivers.receiver_origin(url))[1]
        assert redis_client().get(failures_key) is None

    def test_it_counts_per_receiver_not_per_endpoint(
        self, allow_local, breaker, make_receiver, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        dead = f"http://127.0.0.1:{free_port()}"
        first, second = _delivery(f"{dead}/a", n=1), _delivery(f"{dead}/b", n=2)
        healthy = make_receiver(200)
        _attempt(first, django_capture_on_commit_callbacks)
        _attempt(second, django_capture_on_commit_callbacks)
        _attempt(first, django_capture_on_commit_callbacks)

        assert _attempt(second, django_capture_on_commit_callbacks) == "deferred (open)"
        assert _attempt(_delivery(healthy.url, n=3), django_capture_on_commit_callbacks) == Status.DELIVERED


class TestSlots:
    def test_a_busy_receiver_defers_the_attempt_without_connecting(
        self, allow_local, breaker, make_receiver, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        receiver = make_receiver(200)
        origin = receivers.receiver_origin(receiver.url)
        held = [receivers.receiver_admit(origin) for _ in range(2)]  # two attempts in flight elsewhere
        assert all(a.admitted for a in held)
        delivery = _delivery(receiver.url)

        assert _attempt(delivery, django_capture_on_commit_callbacks) == "deferred (busy)"
        assert receiver.requests == [] and delivery.attempts == 0
        [(_, countdown)] = enqueued
        assert 0 < countdown <= 2 + 0.5

        receivers.receiver_release(origin, held[0], answered=True)
        assert _attempt(delivery, django_capture_on_commit_callbacks) == Status.DELIVERED
        assert len(receiver.requests) == 1

    def test_a_slot_comes_back_when_its_attempt_ends(self, breaker) -> None:
        origin = "http://203.0.113.5:80"
        first, second = receivers.receiver_admit(origin), receivers.receiver_admit(origin)
        assert (first.admitted, second.admitted, receivers.receiver_admit(origin).admitted) == (True, True, False)
        receivers.receiver_release(origin, first, answered=False, error="timed out")
        assert receivers.receiver_admit(origin).admitted
        assert not receivers.receiver_admit(origin).admitted

    def test_a_dead_workers_slot_is_freed_when_its_lease_ends(self, breaker, settings, monkeypatch) -> None:
        settings.WEBHOOK_TIMEOUT = 0.1
        monkeypatch.setattr(receivers, "_LEASE_MARGIN", 0.2)
        origin = "http://203.0.113.6:80"
        assert receivers.receiver_admit(origin).admitted and receivers.receiver_admit(origin).admitted  # never released
        assert not receivers.receiver_admit(origin).admitted
        time.sleep(0.4)
        assert receivers.receiver_admit(origin).admitted


def test_it_keys_a_receiver_by_scheme_host_and_port() -> None:
    origin = receivers.receiver_origin
    assert (
        origin("https://Hooks.Example/a?b=1")
        == origin("https://hooks.example:443/other")
        == "https://hooks.example:443"
    )
    assert origin("http://hooks.example/") == "http://hooks.example:80"
    assert origin("http://hooks.example:8080/") != origin("http://hooks.example/")
