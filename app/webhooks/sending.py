"""One signed POST to one checked address, with a total deadline and no redirects.

The connection goes to `CheckedURL.address` — the address `ssrf.url_check` approved — while
the Host header, TLS SNI and certificate check use the URL's host name. http.client never
follows redirects, so a 3xx comes back as a status like any other.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from app.webhooks.ssrf import CheckedURL

USER_AGENT = "recsvc-webhooks/1.0 (+https://www.standardwebhooks.com/)"
# Enough of an error body to say what went wrong in the attempt log.
RESPONSE_EXCERPT_BYTES = 512


def _connect(address: str, port: int, connect_timeout: float, timeout: float) -> socket.socket:
    """A TCP connection within `connect_timeout`; then reads wait up to `timeout` each."""
    sock = socket.create_connection((address, port), min(connect_timeout, timeout))
    sock.settimeout(timeout)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, checked: CheckedURL, timeout: float, connect_timeout: float) -> None:
        super().__init__(checked.host, checked.port, timeout=timeout)
        self.address = checked.address
        self.connect_timeout = connect_timeout

    def connect(self) -> None:
        self.sock = _connect(self.address, self.port, self.connect_timeout, self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, checked: CheckedURL, timeout: float, connect_timeout: float) -> None:
        super().__init__(checked.host, checked.port, timeout=timeout, context=ssl.create_default_context())
        self.address = checked.address
        self.connect_timeout = connect_timeout

    def connect(self) -> None:
        # Kept in self.sock before the handshake so the deadline can abort a stalled handshake too.
        self.sock = _connect(self.address, self.port, self.connect_timeout, self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    duration_ms: int


def body_encode(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def signed_headers(*, secret: str, msg_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers; the timestamp is the attempt's, the id the message's."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def _abort(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    fired.set()
    if conn.sock is not None:
        try:
            # shutdown, unlike close, wakes a recv blocked in another thread.
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _error_for(response: http.client.HTTPResponse) -> str:
    if 200 <= response.status < 300:
        return ""
    if 300 <= response.status < 400:
        return f"HTTP {response.status}: redirects are not followed (Location: {response.getheader('Location', '')})"
    return f"HTTP {response.status}: {response.read(RESPONSE_EXCERPT_BYTES).decode('utf-8', 'replace')}"


def post(
    checked: CheckedURL, body: str, headers: dict[str, str], *, timeout: float, connect_timeout: float | None = None
) -> SendResult:
    """POST `body`; never raises for network trouble: the outcome is in the result.

    `connect_timeout` bounds the TCP connect (a receiver whose address drops packets fails
    fast), `timeout` the whole exchange.
    """
    cls = _PinnedHTTPSConnection if checked.scheme == "https" else _PinnedHTTPConnection
    conn = cls(checked, timeout, timeout if connect_timeout is None else connect_timeout)
    # Socket timeouts bound each read, not the whole exchange: a receiver dripping one byte at a
    # time would hold the worker for ever. The timer enforces the total.
    fired = threading.Event()
    timer = threading.Timer(timeout, _abort, (conn, fired))
    started = time.monotonic()
    timer.start()
    try:
        conn.request("POST", checked.path, body=body.encode(), headers=headers)
        response = conn.getresponse()
        status, error = response.status, _error_for(response)
    except (OSError, http.client.HTTPException) as exc:
        status = None
        if fired.is_set() or isinstance(exc, TimeoutError):
            error = f"timed out after {timeout:g} s"
        else:
            error = f"{type(exc).__name__}: {exc}"
    finally:
        timer.cancel()
        conn.close()
    return SendResult(
        status_code=status, error=error.strip()[:1000], duration_ms=int((time.monotonic() - started) * 1000)
    )
