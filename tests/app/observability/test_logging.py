"""JSON log lines, the request-id filter, and the request id the web takes, makes and echoes."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from app.observability import context
from app.observability.logging import JsonFormatter, RequestContextFilter, celery_handlers_configure


def _record(message: str = "hello %s", args: tuple = ("world",), **extra) -> logging.LogRecord:
    record = logging.getLogger("tests.observability").makeRecord(
        "tests.observability", logging.WARNING, __file__, 1, message, args, None, extra=extra or None
    )
    RequestContextFilter().filter(record)
    return record


def test_it_writes_one_json_object_with_the_fixed_fields_and_extras() -> None:
    token = context.request_id.set("req-1")
    try:
        line = JsonFormatter().format(_record(job_id=3, when=object()))
    finally:
        context.request_id.reset(token)
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["level"] == "WARNING" and doc["logger"] == "tests.observability"
    assert doc["message"] == "hello world"
    assert doc["request_id"] == "req-1" and doc["task_id"] is None
    assert doc["job_id"] == 3
    assert doc["when"].startswith("<object object"), "extras JSON cannot hold are written as text"
    assert doc["time"].endswith("+00:00")


def test_it_includes_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    doc = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in doc["exc_info"]


def test_it_stamps_the_task_id_of_the_running_task() -> None:
    token = context.task_id.set("t-42")
    try:
        record = _record()
    finally:
        context.task_id.reset(token)
    assert (record.request_id, record.task_id) == ("", "t-42")


def test_it_gives_celery_handlers_the_filter_and_the_json_formatter() -> None:
    logger = logging.getLogger("tests.observability.celery")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        celery_handlers_configure(logger, log_format="json")
        celery_handlers_configure(logger, log_format="json")
        assert isinstance(handler.formatter, JsonFormatter)
        assert sum(isinstance(f, RequestContextFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abc123", True),
        ("a.b_c-D", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("has space", False),
        ("semi;colon", False),
        ("", False),
        ("ünïcode", False),
        ("line\nbreak", False),
    ],
)
def test_it_keeps_only_sane_client_request_ids(given: str, kept: bool) -> None:
    result = context.request_id_sanitize(given)
    if kept:
        assert result == given
    else:
        assert result != given and len(result) == 32 and int(result, 16) >= 0


@pytest.mark.django_db
def test_it_echoes_the_clients_request_id(client) -> None:
    response = client.get("/api/v1/recommendation-requests/not-a-uuid/", HTTP_X_REQUEST_ID="abc123")
    assert response["X-Request-ID"] == "abc123"


@pytest.mark.django_db
def test_it_replaces_an_unsafe_request_id(client) -> None:
    response = client.get("/api/v1/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    rid = response["X-Request-ID"]
    assert len(rid) == 32 and int(rid, 16) >= 0


@pytest.mark.django_db
def test_it_gives_each_request_its_own_id_and_clears_it_afterwards(client) -> None:
    first, second = client.get("/api/v1/")["X-Request-ID"], client.get("/api/v1/")["X-Request-ID"]
    assert first != second
    assert context.request_id.get() == ""


@pytest.mark.django_db
def test_it_logs_the_request_id_of_the_request_being_served(client) -> None:
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(json.loads(JsonFormatter().format(record))["request_id"])

    handler = Capture()
    handler.addFilter(RequestContextFilter())
    # django.request logs after the middleware returned. It logs only 5xx in this project (the
    # access log has the rest), so let it log this 404 too, as it would a 500.
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        client.get("/no/such/page/", HTTP_X_REQUEST_ID="req-404")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == ["req-404"]


def test_it_publishes_the_request_id_in_the_task_headers() -> None:
    from app.observability.propagation import _request_id_publish

    headers: dict = {}
    token = context.request_id.set("from-web")
    try:
        _request_id_publish(headers=headers)
    finally:
        context.request_id.reset(token)
    assert headers == {context.MESSAGE_HEADER: "from-web"}
    empty: dict = {}
    _request_id_publish(headers=empty)
    assert empty == {}, "no request, no header"
