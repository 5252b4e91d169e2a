"""`make run` answers as production does (problem+json, no debug pages), and no error report shows a secret."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.test import RequestFactory

from config.error_reports import SecretlessExceptionReporterFilter
from scripts import dev
from tests.support.live import http, live_web, raw


def test_make_run_turns_debug_off_unless_asked() -> None:
    assert dev.environment({})["DJANGO_DEBUG"] == "0"
    assert dev.environment({"DJANGO_DEBUG": "1"})["DJANGO_DEBUG"] == "1"
    env = {**dev.environment({}), "PATH": "/usr/bin:/bin"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_the_demo_server_answers_problems_not_debug_pages(worker_env, tmp_path) -> None:
    with live_web(worker_env, tmp_path, how="dev.py") as web:
        for path in ("/api/v1/no-such-thing/", "/api/nope", "/nope"):
            status, headers, body = raw(web.port, http("GET", path))
            assert status == 404 and headers["content-type"] == "application/problem+json", body[:300]
            assert "api/v1/" not in json.loads(body)["detail"]  # no list of URL patterns

        status, headers, body = raw(web.port, http("GET", "/api/v1/feedback/", host="evil.example"))

    assert status == 400 and headers["content-type"] == "application/problem+json", body[:300]
    assert json.loads(body)["detail"] == "The request could not be understood."
    assert b"SECRET_KEY" not in body and b"evil.example" not in body


SECRETS = {
    "REDIS_URL": "redis://:redis-s3cret@cache.internal:6379/0",
    "CELERY_BROKER_URL": "redis://user:broker-s3cret@broker.internal:6379/1",
    "CACHES": {"default": {"BACKEND": "x", "LOCATION": "redis://:cache-s3cret@cache.internal:6379/0"}},
    "METRICS_TOKEN": "metrics-s3cret",
}


def test_error_reports_mask_credentials_in_urls(settings) -> None:
    from django.views.debug import get_default_exception_reporter_filter

    assert isinstance(get_default_exception_reporter_filter(), SecretlessExceptionReporterFilter)
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    shown = json.dumps(SecretlessExceptionReporterFilter().get_safe_settings(), default=str)
    assert "s3cret" not in shown
    assert "redis://********************@cache.internal:6379/0" in shown  # where it points is still shown


def test_error_reports_mask_the_environment_runserver_copies_into_the_request(settings) -> None:
    request = RequestFactory().get(
        "/",
        DATABASE_URL="postgres://app:db-s3cret@db:5432/recsvc",
        FLOWER_BASIC_AUTH="admin:flower-s3cret",
        DJANGO_SECRET_KEY="key-s3cret",
    )
    assert "s3cret" not in json.dumps(SecretlessExceptionReporterFilter().get_safe_request_meta(request), default=str)


def test_error_reports_mask_frame_variables_by_name_and_url(settings) -> None:
    settings.DEBUG = True

    def connect() -> None:
        password = "frame-s3cret"  # noqa: F841
        url = "redis://:url-s3cret@cache.internal/0"  # noqa: F841
        raise ConnectionError("down")

    try:
        connect()
    except ConnectionError as exc:
        tb = exc.__traceback__.tb_next
    variables = dict(SecretlessExceptionReporterFilter().get_traceback_frame_variables(None, tb.tb_frame))
    assert "s3cret" not in json.dumps(variables, default=str)
