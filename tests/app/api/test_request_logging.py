"""Each request is logged once: the access log has every answer, Django adds only its 5xx (with the traceback)."""

from __future__ import annotations

import logging
import re

import pytest

from tests import factories as f
from tests.support.live import http, live_web, raw


@pytest.mark.django_db
def test_django_does_not_log_a_4xx_again(client, api_client, caplog) -> None:
    caplog.set_level(logging.INFO)  # the root's level; django.request keeps its own
    client.get("/no/such/page/")
    api_client.post("/api/v1/auth/token/", b"{bad", content_type="application/json")
    api_client.get("/api/v1/feedback/")
    client.get("/api/v1/feedback/", HTTP_HOST="evil.example")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("django")] == []


@pytest.mark.django_db
def test_django_still_logs_a_5xx_with_its_traceback(api_client, caplog, monkeypatch) -> None:
    from app.recommendations.api import views

    monkeypatch.setattr(views, "_visible_job", lambda *a, **k: 1 / 0)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.operator())}")
    api_client.raise_request_exception = False
    assert api_client.post("/api/v1/jobs/1/recommendations/", {}, format="json").status_code == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in errors)


@pytest.mark.slow
def test_behind_gunicorn_each_4xx_is_one_line_with_its_request_id(worker_env, tmp_path) -> None:
    requests = {
        "/api/v1/not-here/": http("GET", "/api/v1/not-here/", headers={"X-Request-ID": "rid-404"}),
        "/api/v1/auth/token/": http(
            "POST",
            "/api/v1/auth/token/",
            body=b"{bad",
            headers={"Content-Type": "application/json", "X-Request-ID": "rid-400"},
        ),
        "/api/v1/feedback/": http(
            "GET", "/api/v1/feedback/", host="evil.example", headers={"X-Request-ID": "rid-host"}
        ),
    }
    with live_web(worker_env, tmp_path) as web:
        statuses = {path: raw(web.port, request)[0] for path, request in requests.items()}
        raw(web.port, http("GET", "/healthz"))  # the access log is written after the answer: one more, and wait
        output = web.output()

    assert statuses == {"/api/v1/not-here/": 404, "/api/v1/auth/token/": 400, "/api/v1/feedback/": 400}
    for path, rid in (
        ("/api/v1/not-here/", "rid-404"),
        ("/api/v1/auth/token/", "rid-400"),
        ("/api/v1/feedback/", "rid-host"),
    ):
        lines = [line for line in output.splitlines() if path in line]
        assert len(lines) == 1, lines
        assert re.search(rf'" {statuses[path]} \d+ .* {rid}$', lines[0]), lines[0]
    assert "Traceback" not in output
