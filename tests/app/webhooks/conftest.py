"""A fake DNS for host names: no webhook test asks a real DNS server."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest


class FakeDNS:
    """Host names resolve from `table`; IP literals go to the real getaddrinfo (no network)."""

    def __init__(self, real) -> None:
        self.real = real
        self.table: dict[str, list[str] | Callable[[], list[str]]] = {}  # a callable answers each lookup anew
        self.lookups: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
        except OSError:
            pass
        else:
            return self.real(host, port, *args, **kwargs)
        self.lookups.append(name)
        if name not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = self.table[name]
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port or 0, 0, 0) if ":" in ip else (ip, port or 0),
            )
            for ip in (answer() if callable(answer) else answer)
        ]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """Resolution of host names is outside the system: no test asks a real DNS server."""
    dns = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


@pytest.fixture(autouse=True)
def _fresh_receiver_state():
    """No receiver's slots or breaker carried over from another test (they live in Redis)."""
    from app.common.redis_client import client

    def clear() -> None:
        keys = list(client().scan_iter("recsvc:webhooks:*"))
        if keys:
            client().delete(*keys)

    clear()
    yield
    clear()
