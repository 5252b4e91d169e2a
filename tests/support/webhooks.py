"""Real HTTP receivers on 127.0.0.1, and the setting that lets this process send webhooks to them.

A `Receiver` is an http.server in a thread: it records every request, verifies the Standard
Webhooks signature when it knows the secret (answering 401 when it does not verify, as a real
receiver would), and answers with the statuses it is scripted to give. A `HungReceiver`
accepts connections and never answers, counting how many it holds at once. A refusing
receiver needs no server: `net.free_port()`, with nothing listening.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: dict | None = None  # the payload, if the signature verified
    verify_error: str = ""

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """Answers with `replies` in turn, repeating the last one."""

    def __init__(self, *replies: int | Reply, secret: str = "", port: int = 0) -> None:
        self.replies = [r if isinstance(r, Reply) else Reply(r) for r in replies] or [Reply()]
        self.secret = secret
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.requests) >= count, f"receiver got {len(self.requests)} requests, expected {count}"
        return self.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _record(self, handler: BaseHTTPRequestHandler) -> Reply:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        got = Received(handler.path, dict(handler.headers.items()), body)
        if self.secret:
            try:
                got.verified = Webhook(self.secret).verify(body, got.headers)
            except WebhookVerificationError as exc:
                got.verify_error = str(exc)
        with self._lock:
            self.requests.append(got)
            reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        return Reply(401) if got.verify_error else reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                reply = receiver._record(self)
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except ConnectionError:
                    pass  # the sender gave up first (a timeout test)

            def log_message(self, *args) -> None:
                pass

        return Handler


class HungReceiver:
    """Accepts every connection, reads what is sent, never answers: a receiver that hangs.

    `connections` counts the connections accepted; `most_at_once` the most held open together
    (a connection ends when the sender gives up and closes it).
    """

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.connections = 0
        self.open = 0
        self.most_at_once = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.open += 1
                self.most_at_once = max(self.most_at_once, self.open)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            try:
                while conn.recv(65536):  # b"": the sender closed
                    pass
            except OSError:
                pass
        with self._lock:
            self.open -= 1

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


@pytest.fixture
def hung_receiver():
    receiver = HungReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def make_receiver():
    made: list[Receiver] = []

    def make(*replies: int | Reply, secret: str = "", port: int = 0) -> Receiver:
        made.append(Receiver(*replies, secret=secret, port=port))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def allow_local(settings) -> None:
    """Let this (test) process send to and register receivers on 127.0.0.1."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
