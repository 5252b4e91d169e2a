"""scripts/healthcheck.py, the containers' health checks, against real processes on this host."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts import healthcheck


@pytest.fixture
def server() -> Iterator[dict]:
    """An HTTP server on a free loopback port that answers 200 on `paths` for `hosts`, else 400/404."""
    seen: dict = {"paths": {"/healthz", "/healthcheck", "/flower/healthcheck"}, "hosts": {"localhost"}, "asked": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = self.headers["Host"]
            seen["asked"].append((self.path, host))
            code = 400 if host not in seen["hosts"] else 200 if self.path in seen["paths"] else 404
            self.send_response(code)
            self.end_headers()

        def log_message(self, format: str, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    seen["port"] = httpd.server_address[1]
    yield seen
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("api.example.com,localhost", "api.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_it_asks_the_web_with_a_host_the_settings_allow(
    monkeypatch: pytest.MonkeyPatch, server: dict, allowed: str, host: str
) -> None:
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", allowed)
    monkeypatch.setenv("WEB_BIND", f"0.0.0.0:{server['port']}")
    server["hosts"] = {host}
    assert healthcheck.web_healthy()
    assert server["asked"] == [("/healthz", host)]


def test_it_finds_a_web_that_does_not_answer_200_unhealthy(monkeypatch: pytest.MonkeyPatch, server: dict) -> None:
    monkeypatch.setenv("WEB_BIND", f"127.0.0.1:{server['port']}")
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "refused.example.com")
    assert not healthcheck.web_healthy()


def test_it_finds_a_port_nobody_listens_on_unhealthy(monkeypatch: pytest.MonkeyPatch, server: dict) -> None:
    port = server["port"]
    monkeypatch.setenv("WEB_BIND", f"127.0.0.1:{port}")
    server["paths"] = set()
    assert not healthcheck.web_healthy()
    assert not healthcheck.http_ok(1, "/healthz")  # nothing may listen on port 1 without root


@pytest.mark.parametrize(
    ("prefix", "path"), [("", "/healthcheck"), ("flower", "/flower/healthcheck"), ("/flower/", "/flower/healthcheck")]
)
def test_it_asks_flower_under_its_url_prefix(monkeypatch: pytest.MonkeyPatch, prefix: str, path: str) -> None:
    asked = []
    monkeypatch.setattr(healthcheck, "http_ok", lambda port, path, **kwargs: asked.append((port, path)) or True)
    monkeypatch.setenv("FLOWER_URL_PREFIX", prefix)
    assert healthcheck.flower_healthy()
    assert asked == [(5555, path)]


@pytest.mark.worker
def test_it_pings_its_own_worker_through_the_broker(celery_worker, monkeypatch: pytest.MonkeyPatch) -> None:
    # tests/conftest.py names the session's worker worker-<pid of this process>@<host>.
    monkeypatch.setenv("WORKER_NAME", f"worker-{os.getpid()}")
    assert healthcheck.worker_healthy("worker")
    monkeypatch.setenv("WORKER_NAME", "nobody")
    assert not healthcheck.worker_healthy("worker", timeout=0.5)


def test_it_refuses_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(["beat"]) == 2
    assert "web|flower|worker|trainer" in capsys.readouterr().err
