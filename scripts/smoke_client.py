"""The client's side of scripts/container-smoke.sh: the README's whole flow against a running stack.

Run from the host, with only the standard library and `standardwebhooks`:

    python scripts/smoke_client.py --api http://127.0.0.1:PORT --username client0001 --job 42 \
        --receiver-host 10.89.0.1 --model-version smoke-1 --feedback-key smoke-view-1

It gets a token, registers a webhook endpoint pointing at a receiver it runs itself on
`--receiver-host` (an address of this host that the containers reach: the compose network's
gateway), asks for cleaners for the job, long-polls the answer and checks it was computed by the
model (neural or ensemble mode, `--model-version`), waits for the signed delivery of that answer
and verifies its Standard Webhooks signature, then posts one `viewed` event. Whether the event
was applied is checked inside the stack by the shell script (the API does not show it).

Each step prints one line; the first failure exits 1 with what was expected and what came.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

WEBHOOK_PATH = "/hooks/smoke"
MODEL_MODES = {"neural", "ensemble"}


class SmokeFailure(Exception):
    """A step of the flow did not give what a client is promised; `str()` says what came instead."""


class Receiver:
    """A webhook receiver on `host`, on a free port: every POST is queued as (headers, body)."""

    def __init__(self, host: str) -> None:
        self.deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        deliveries = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                deliveries.put((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args) -> None:
                pass

        try:
            self.server = ThreadingHTTPServer((host, 0), Handler)
        except OSError as exc:
            # Rootless podman keeps its networks in a namespace of their own: their gateway is
            # not an address of this host, and the containers reach the host another way.
            raise SmokeFailure(
                f"cannot listen on {host} for the webhook receiver ({exc}): "
                "is it an address of this host? (the containers' network gateway is, with docker or rootful podman)"
            ) from exc
        self.url = f"http://{host}:{self.server.server_address[1]}{WEBHOOK_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_delivery(self, timeout: float) -> tuple[dict[str, str], bytes]:
        try:
            return self.deliveries.get(timeout=timeout)
        except queue.Empty:
            raise SmokeFailure(f"no webhook delivery reached {self.url} within {timeout:.0f} s") from None


def call(method: str, url: str, *, token: str | None = None, body: dict | None = None, timeout: float = 40) -> tuple:
    """(status, parsed JSON body) of one request; HTTP errors are answers too, not exceptions."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:
        raise SmokeFailure(f"{method} {url}: {exc}") from exc
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        raise SmokeFailure(f"{method} {url}: {status} with a body that is not JSON: {raw[:300]!r}") from None


def expect(status: int, wanted: set[int], what: str, body) -> None:
    if status not in wanted:
        raise SmokeFailure(f"{what}: expected {sorted(wanted)}, got {status}: {json.dumps(body)[:500]}")


def step(message: str) -> None:
    print(f"  client: {message}", flush=True)


def token_get(api: str, username: str, password: str) -> str:
    status, body = call("POST", f"{api}/auth/token/", body={"username": username, "password": password})
    expect(status, {200}, f"token for {username}", body)
    step(f"token for {username}")
    return body["token"]


def endpoint_register(api: str, token: str, url: str) -> str:
    status, body = call("POST", f"{api}/webhook-endpoints/", token=token, body={"url": url, "description": "smoke"})
    expect(status, {201}, f"registering the webhook endpoint {url}", body)
    step(f"webhook endpoint {body['id']} registered: {url}")
    return body["secret"]


def recommendation_ask(api: str, token: str, job: int) -> str:
    status, body = call(
        "POST", f"{api}/jobs/{job}/recommendations/", token=token, body={"limit": 5, "mode": "ensemble"}
    )
    # 202 on a fresh stack; never a cached 200, since nothing was asked before.
    expect(status, {202}, f"asking for cleaners for job {job}", body)
    step(f"request {body['id']} accepted ({body['status']})")
    return body["status_url"]


def answer_wait(token: str, status_url: str, deadline: float) -> dict:
    while True:
        status, body = call("GET", f"{status_url}?wait=20", token=token)
        expect(status, {200}, "long-polling the request", body)
        if body["status"] in {"succeeded", "failed"}:
            return body
        if time.monotonic() > deadline:
            raise SmokeFailure(f"the request is still {body['status']} after the long-polls: {json.dumps(body)[:500]}")


def answer_check(answer: dict, model_version: str) -> int:
    """The first recommended cleaner's id, once the answer is what the worker image promises."""
    if answer["status"] != "succeeded":
        raise SmokeFailure(f"the request {answer['status']}: {answer.get('error')}")
    result = answer["result"]
    if result.get("mode") not in MODEL_MODES or result.get("model_version") != model_version:
        raise SmokeFailure(
            f"expected a neural or ensemble answer of model {model_version}, got mode {result.get('mode')!r} "
            f"and model {result.get('model_version')!r}: is torch in the worker image and the model active?"
        )
    cleaners = result.get("cleaners") or []
    if not cleaners or cleaners[0].get("neural_score") is None:
        raise SmokeFailure(f"expected cleaners with neural scores, got {json.dumps(cleaners)[:500]}")
    step(f"answer: {len(cleaners)} cleaners, mode {result['mode']}, model {result['model_version']}")
    return cleaners[0]["cleaner_id"]


def delivery_check(receiver: Receiver, secret: str, request_id: str, timeout: float) -> None:
    headers, body = receiver.next_delivery(timeout)
    try:
        payload = Webhook(secret).verify(body, headers)
    except WebhookVerificationError as exc:
        raise SmokeFailure(f"the webhook's signature does not verify ({exc}); headers {headers}") from exc
    try:
        Webhook(secret).verify(body + b" ", headers)
    except WebhookVerificationError:
        pass
    else:
        raise SmokeFailure("a tampered webhook body verified: the check proves nothing")
    if payload.get("type") != "recommendation_request.finished" or payload["data"]["id"] != request_id:
        raise SmokeFailure(f"expected the finished request {request_id}, got {json.dumps(payload)[:500]}")
    step(f"signed webhook {headers.get('webhook-id')} verified ({payload['type']}, {payload['data']['status']})")


def feedback_post(api: str, token: str, job: int, cleaner: int, key: str) -> None:
    event = {
        "recommendation_type": "cleaner",
        "job_id": job,
        "cleaner_id": cleaner,
        "event": "viewed",
        "idempotency_key": key,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    status, body = call("POST", f"{api}/feedback/", token=token, body={"events": [event]})
    expect(status, {202}, "posting feedback", body)
    if body.get("accepted") != 1:
        raise SmokeFailure(f"expected the event accepted, got {body}")
    step(f"feedback {key} accepted (viewed: job {job}, cleaner {cleaner})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="the web's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", default="demo")
    parser.add_argument("--job", type=int, required=True, help="one of the client's open jobs")
    parser.add_argument("--receiver-host", required=True, help="an address of this host the containers reach")
    parser.add_argument("--model-version", required=True, help="the version the answer must come from")
    parser.add_argument("--feedback-key", required=True, help="the idempotency key of the feedback event")
    parser.add_argument("--timeout", type=float, default=90, help="seconds for the answer, and for the webhook")
    args = parser.parse_args()
    api = args.api.rstrip("/") + "/api/v1"
    try:
        receiver = Receiver(args.receiver_host)
        token = token_get(api, args.username, args.password)
        secret = endpoint_register(api, token, receiver.url)
        status_url = recommendation_ask(api, token, args.job)
        answer = answer_wait(token, status_url, time.monotonic() + args.timeout)
        cleaner = answer_check(answer, args.model_version)
        delivery_check(receiver, secret, answer["id"], args.timeout)
        feedback_post(api, token, args.job, cleaner, args.feedback_key)
    except SmokeFailure as exc:
        print(f"smoke_client: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
