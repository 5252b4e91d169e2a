"""One attempt at a time, in this process, against real receivers on 127.0.0.1.

The task only calls `webhook_delivery_attempt`; calling it here shows each rule (sign, retry,
give up, 410, no redirects, timeouts, SSRF at send time) without waiting on a worker. The one
thing replaced is `_enqueue`, so retries are recorded instead of sent to the shared broker.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from app.recommendations.models import RecommendationRequest
from app.recommendations.results import request_payload
from app.webhooks import services
from app.webhooks.models import CallbackSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests import factories as f
from tests.support.auth import authenticate
from tests.support.net import free_port
from tests.support.webhooks import Reply

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    sent: list[tuple[int, float | None]] = []
    monkeypatch.setattr(services, "_enqueue", lambda pk, countdown=None: sent.append((pk, countdown)))
    return sent


@pytest.fixture
def instant_retries(settings) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0]


def _finished_request(user=None, callback_url: str = "") -> RecommendationRequest:
    return RecommendationRequest.objects.create(
        kind=RecommendationRequest.Kind.CLEANERS_FOR_JOB,
        requested_by=user or f.user(),
        callback_url=callback_url,
        status=RecommendationRequest.Status.SUCCEEDED,
        finished_at=timezone.now(),
        result={"job_id": 7, "mode": "rule_based", "cleaners": [{"cleaner_id": 3, "rank": 1, "score": 0.91}]},
    )


def _deliveries(req: RecommendationRequest, capture) -> list[WebhookDelivery]:
    with capture(execute=True):
        services.webhook_deliveries_create_for_request(request=req)
    return list(WebhookDelivery.objects.filter(request=req).order_by("id"))


def _attempt(delivery: WebhookDelivery, capture) -> str:
    """One attempt now, whatever the jitter drew: the schedule is tested by what it records."""
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING).update(next_attempt_at=timezone.now())
    with capture(execute=True):
        outcome = services.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return outcome


def _codes(delivery: WebhookDelivery) -> list[int | None]:
    return list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True))


class TestCreateForRequest:
    def test_it_creates_one_delivery_per_target_once(self, django_capture_on_commit_callbacks, enqueued) -> None:
        user = f.user()
        active = WebhookEndpoint.objects.create(owner=user, url="http://93.184.216.34/a")
        WebhookEndpoint.objects.create(owner=user, url="http://93.184.216.34/b", is_active=False)
        WebhookEndpoint.objects.create(owner=f.user(), url="http://93.184.216.34/theirs")
        req = _finished_request(user, callback_url="http://93.184.216.34/callback")

        first = _deliveries(req, django_capture_on_commit_callbacks)
        again = _deliveries(req, django_capture_on_commit_callbacks)  # a redelivered recommendation task

        assert [(d.endpoint_id, d.url) for d in first] == [(None, req.callback_url), (active.pk, active.url)]
        assert [d.msg_id for d in again] == [d.msg_id for d in first]
        assert len({d.msg_id for d in first}) == 2
        assert {pk for pk, _ in enqueued} == {d.pk for d in first}
        assert first[0].payload == {
            "type": "recommendation_request.finished",
            "timestamp": req.finished_at.isoformat(),
            "data": request_payload(req),
        }

    def test_it_sends_nothing_for_unfinished_requests_or_no_targets(
        self, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        running = _finished_request(callback_url="http://93.184.216.34/")
        running.status = RecommendationRequest.Status.RUNNING
        assert _deliveries(running, django_capture_on_commit_callbacks) == []
        assert _deliveries(_finished_request(), django_capture_on_commit_callbacks) == []
        assert enqueued == []

    def test_it_never_raises_into_the_recommendation_task(self, monkeypatch, caplog) -> None:
        def broken(*args, **kwargs):
            raise RuntimeError("database is on fire")

        monkeypatch.setattr(WebhookDelivery.objects, "bulk_create", broken)
        req = _finished_request(callback_url="http://93.184.216.34/")
        assert services.webhook_deliveries_create_for_request(request=req) == []
        assert "could not create the webhook deliveries" in caplog.text


class TestAttempt:
    def test_it_signs_and_sends_the_finished_request(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        user = f.user()
        secret = services.callback_secret_get_or_create(user_id=user.pk).secret
        receiver = make_receiver(200, secret=secret)
        req = _finished_request(user, callback_url=receiver.url)
        [delivery] = _deliveries(req, django_capture_on_commit_callbacks)

        assert _attempt(delivery, django_capture_on_commit_callbacks) == Status.DELIVERED

        [got] = receiver.requests
        assert got.verify_error == ""
        assert got.verified == {
            "type": "recommendation_request.finished",
            "timestamp": req.finished_at.isoformat(),
            "data": request_payload(req),
        }
        assert got.headers["webhook-id"] == delivery.msg_id
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
        sent_at = datetime.fromtimestamp(int(got.headers["webhook-timestamp"]), tz=UTC)
        assert got.headers["webhook-signature"] == Webhook(secret).sign(delivery.msg_id, sent_at, got.body.decode())
        assert got.headers["Content-Type"] == "application/json"
        assert got.headers["User-Agent"].startswith("recsvc-webhooks/")
        assert got.headers["Host"] == f"127.0.0.1:{receiver.port}" and got.path == "/hook"
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Status.DELIVERED, 1, None)
        assert delivery.delivered_at is not None
        [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
        assert (attempt.status_code, attempt.error) == (200, "")

    def test_it_signs_endpoint_deliveries_with_the_endpoint_secret(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        user = f.user()
        receiver = make_receiver(200)
        endpoint = WebhookEndpoint.objects.create(owner=user, url=receiver.url)
        [delivery] = _deliveries(_finished_request(user), django_capture_on_commit_callbacks)
        receiver.secret = endpoint.secret

        _attempt(delivery, django_capture_on_commit_callbacks)

        assert receiver.requests[0].verified["type"] == "recommendation_request.finished"
        assert not CallbackSecret.objects.filter(user=user).exists()  # no callback, no callback secret

    def test_it_retries_failures_with_the_same_message_id_and_records_every_attempt(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued, settings
    ) -> None:
        settings.WEBHOOK_RETRY_SCHEDULE = [5, 30, 120]
        user = f.user()
        receiver = make_receiver(500, 503, 200, secret=services.callback_secret_get_or_create(user_id=user.pk).secret)
        [delivery] = _deliveries(_finished_request(user, callback_url=receiver.url), django_capture_on_commit_callbacks)
        enqueued.clear()

        outcomes = [_attempt(delivery, django_capture_on_commit_callbacks) for _ in range(3)]

        assert outcomes == ["retrying", "retrying", Status.DELIVERED]
        assert _codes(delivery) == [500, 503, 200]
        assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.msg_id}
        assert all(r.verified for r in receiver.requests)
        assert WebhookAttempt.objects.filter(delivery=delivery).first().error.startswith("HTTP 500: ok")
        # Full jitter: each retry is drawn below its step of the schedule.
        assert [pk for pk, _ in enqueued] == [delivery.pk, delivery.pk]
        assert 0 <= enqueued[0][1] <= 5 and 0 <= enqueued[1][1] <= 30

    def test_it_leaves_distant_retries_to_the_sweeper(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued, settings, monkeypatch
    ) -> None:
        """An hour-long countdown would outlive Redis' visibility timeout: the row alone keeps it."""
        settings.WEBHOOK_RETRY_SCHEDULE = [3600]
        monkeypatch.setattr(services.random, "uniform", lambda low, high: high)  # the jitter's longest draw
        receiver = make_receiver(500)
        [delivery] = _deliveries(_finished_request(callback_url=receiver.url), django_capture_on_commit_callbacks)
        enqueued.clear()
        before = timezone.now()

        assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"

        assert delivery.status == Status.PENDING
        assert before + timedelta(seconds=3600) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=3600)
        assert enqueued == []

    def test_it_gives_up_after_the_schedule(
        self, make_receiver, allow_local, instant_retries, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        receiver = make_receiver(500)
        [delivery] = _deliveries(_finished_request(callback_url=receiver.url), django_capture_on_commit_callbacks)

        outcomes = [_attempt(delivery, django_capture_on_commit_callbacks) for _ in range(4)]

        assert outcomes == ["retrying", "retrying", Status.FAILED, "skipped"]
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Status.FAILED, 3, None)
        assert len(receiver.requests) == 3 and _codes(delivery) == [500, 500, 500]

    @pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
    def test_it_does_not_follow_redirects(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued, code: int
    ) -> None:
        elsewhere = make_receiver(200)
        receiver = make_receiver(Reply(code, {"Location": elsewhere.url}))
        [delivery] = _deliveries(_finished_request(callback_url=receiver.url), django_capture_on_commit_callbacks)

        assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"

        assert len(receiver.requests) == 1 and elsewhere.requests == []
        [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
        assert attempt.status_code == code
        assert attempt.error == f"HTTP {code}: redirects are not followed (Location: {elsewhere.url})"
        assert delivery.status == Status.PENDING

    def test_it_disables_an_endpoint_that_answers_410(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        user = f.user()
        receiver = make_receiver(410)
        endpoint = WebhookEndpoint.objects.create(owner=user, url=receiver.url)
        [first] = _deliveries(_finished_request(user), django_capture_on_commit_callbacks)
        [queued_behind] = _deliveries(_finished_request(user), django_capture_on_commit_callbacks)

        assert _attempt(first, django_capture_on_commit_callbacks) == Status.DISABLED
        endpoint.refresh_from_db()
        assert endpoint.is_active is False and "410 Gone" in endpoint.disabled_reason
        assert (first.status, _codes(first)) == (Status.DISABLED, [410])

        # A delivery already queued for it is dropped without a request; new ones are not made.
        assert _attempt(queued_behind, django_capture_on_commit_callbacks) == Status.DISABLED
        assert (queued_behind.status, queued_behind.attempts, _codes(queued_behind)) == (Status.DISABLED, 0, [])
        assert _deliveries(_finished_request(user), django_capture_on_commit_callbacks) == []
        assert len(receiver.requests) == 1

    def test_it_stops_a_callback_that_answers_410(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        receiver = make_receiver(410)
        [delivery] = _deliveries(_finished_request(callback_url=receiver.url), django_capture_on_commit_callbacks)
        assert _attempt(delivery, django_capture_on_commit_callbacks) == Status.DISABLED
        assert _attempt(delivery, django_capture_on_commit_callbacks) == "skipped"
        assert len(receiver.requests) == 1

    def test_it_times_out_a_slow_receiver(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued, settings
    ) -> None:
        settings.WEBHOOK_TIMEOUT = 0.5
        receiver = make_receiver(Reply(200, delay=3))
        [delivery] = _deliveries(_finished_request(callback_url=receiver.url), django_capture_on_commit_callbacks)

        started = time.monotonic()
        assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"

        assert time.monotonic() - started < 2
        [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
        assert (attempt.status_code, attempt.error) == (None, "timed out after 0.5 s")
        assert 400 <= attempt.duration_ms < 2000

    def test_it_bounds_the_whole_attempt_when_the_receiver_drips(
        self, allow_local, django_capture_on_commit_callbacks, enqueued, settings
    ) -> None:
        """One byte every 0.1 s never trips a per-read timeout; the total deadline still holds."""
        settings.WEBHOOK_TIMEOUT = 0.5
        server = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()

        def drip() -> None:
            conn, _ = server.accept()
            conn.recv(65536)
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                    if stop.is_set():
                        break
                    conn.sendall(bytes([byte]))
                    time.sleep(0.1)
            except OSError:
                pass
            conn.close()

        threading.Thread(target=drip, daemon=True).start()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/"
        [delivery] = _deliveries(_finished_request(callback_url=url), django_capture_on_commit_callbacks)
        try:
            started = time.monotonic()
            _attempt(delivery, django_capture_on_commit_callbacks)
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            server.close()
        assert elapsed < 1.5
        assert WebhookAttempt.objects.get(delivery=delivery).error == "timed out after 0.5 s"

    def test_it_records_a_connection_error(self, allow_local, django_capture_on_commit_callbacks, enqueued) -> None:
        url = f"http://127.0.0.1:{free_port()}/"
        [delivery] = _deliveries(_finished_request(callback_url=url), django_capture_on_commit_callbacks)

        assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"

        [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
        assert attempt.status_code is None and attempt.error.startswith("ConnectionRefusedError")

    def test_it_skips_a_delivery_that_is_not_due_or_already_done(
        self, make_receiver, allow_local, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        receiver = make_receiver(200)
        [delivery] = _deliveries(_finished_request(callback_url=receiver.url), django_capture_on_commit_callbacks)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"  # a retry not yet due

        assert _attempt(delivery, django_capture_on_commit_callbacks) == Status.DELIVERED
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"  # a redelivered message
        assert services.webhook_delivery_attempt(delivery_id=10**9) == "skipped"  # deleted with its endpoint
        assert len(receiver.requests) == 1


class TestSendTimeSSRF:
    def test_it_refuses_a_name_that_now_resolves_to_loopback(
        self, make_receiver, fake_dns, api_client, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        receiver = make_receiver(200)  # on 127.0.0.1: where the rebinding points
        user = f.user()
        fake_dns.table["hooks.example"] = ["93.184.216.34"]
        authenticate(api_client, user)
        url = f"http://hooks.example:{receiver.port}/hook"
        assert api_client.post("/api/v1/webhook-endpoints/", {"url": url}, format="json").status_code == 201
        [delivery] = _deliveries(_finished_request(user), django_capture_on_commit_callbacks)
        fake_dns.table["hooks.example"] = ["127.0.0.1"]

        assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"

        assert receiver.requests == []
        [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
        assert attempt.status_code is None
        assert attempt.error == (
            "refused: 'hooks.example' resolves to 127.0.0.1, a loopback address; webhooks go to public addresses only"
        )

    def test_it_connects_to_the_address_it_checked(
        self, make_receiver, fake_dns, settings, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        """Resolve once: a second lookup would now answer 10.9.9.9, and must never be made."""
        settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        receiver = make_receiver(200)
        answers = iter([["127.0.0.1"], ["10.9.9.9"]])
        fake_dns.table["hooks.example"] = lambda: next(answers)
        url = f"http://hooks.example:{receiver.port}/hook"
        [delivery] = _deliveries(_finished_request(callback_url=url), django_capture_on_commit_callbacks)

        assert _attempt(delivery, django_capture_on_commit_callbacks) == Status.DELIVERED

        assert fake_dns.lookups == ["hooks.example"]
        assert receiver.requests[0].headers["Host"] == f"hooks.example:{receiver.port}"

    def test_it_checks_tls_certificates_against_the_host_name(
        self, tmp_path, fake_dns, settings, django_capture_on_commit_callbacks, enqueued
    ) -> None:
        """An https connection pinned to the checked IP still sends SNI and verifies the certificate."""
        settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        fake_dns.table["hooks.example"] = ["127.0.0.1"]
        key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=hooks.example",
                "-addext",
                "subjectAltName=DNS:hooks.example",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        sni: list[str | None] = []
        context.sni_callback = lambda sock, name, ctx: sni.append(name)
        server = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            conn, _ = server.accept()
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        url = f"https://hooks.example:{server.getsockname()[1]}/hook"
        [delivery] = _deliveries(_finished_request(callback_url=url), django_capture_on_commit_callbacks)
        try:
            assert _attempt(delivery, django_capture_on_commit_callbacks) == "retrying"
        finally:
            server.close()

        assert sni == ["hooks.example"]
        error = WebhookAttempt.objects.get(delivery=delivery).error
        assert "CERTIFICATE_VERIFY_FAILED" in error and "self-signed" in error


class TestSweep:
    def test_it_enqueues_due_deliveries_that_lost_their_message(self, enqueued) -> None:
        req = _finished_request(callback_url="http://93.184.216.34/")
        now = timezone.now()

        def delivery(n: int, status: str, due_in: timedelta | None) -> WebhookDelivery:
            return WebhookDelivery.objects.create(
                request=req,
                endpoint=WebhookEndpoint.objects.create(owner=req.requested_by, url=req.callback_url),
                url=req.callback_url,
                event_type="test",
                msg_id=f"msg_{n}",
                payload={},
                status=status,
                next_attempt_at=now + due_in if due_in is not None else None,
            )

        lost = delivery(1, Status.PENDING, -timedelta(minutes=5))
        delivery(2, Status.PENDING, -timedelta(seconds=5))  # its countdown message is about to run it
        delivery(3, Status.PENDING, timedelta(hours=2))
        delivery(4, Status.DELIVERED, None)
        delivery(5, Status.FAILED, None)

        assert services.webhook_deliveries_sweep() == 1
        assert enqueued == [(lost.pk, None)]


@pytest.mark.django_db(transaction=True)
class TestClaim:
    def test_it_sends_once_when_two_workers_race_for_a_delivery(self, make_receiver, allow_local, enqueued) -> None:
        from django.db import connection

        receiver = make_receiver(Reply(200, delay=0.3))
        req = _finished_request(callback_url=receiver.url)
        [delivery_id] = services.webhook_deliveries_create_for_request(request=req)
        outcomes: list[str] = []
        start = threading.Barrier(2)

        def worker() -> None:
            start.wait()
            try:
                outcomes.append(services.webhook_delivery_attempt(delivery_id=delivery_id))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert sorted(outcomes) == [Status.DELIVERED, "skipped"]
        assert len(receiver.requests) == 1
        assert WebhookAttempt.objects.filter(delivery_id=delivery_id).count() == 1
