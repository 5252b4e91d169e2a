"""Log records as JSON lines, stamped with the request id and task id of the work in progress.

`LOG_FORMAT=json` selects `JsonFormatter` for the web (Django's LOGGING) and the worker
(Celery's own handlers, see `celery_handlers_configure`); the default `plain` keeps the usual
one-line text for development. Every handler carries `RequestContextFilter`, so a line written
anywhere while a request or task runs names it.

One JSON object per line: `time` (ISO 8601, UTC, milliseconds), `level`, `logger`, `message`,
`request_id`, `task_id` (null outside a request or task), `exc_info` when there is one, and the
record's extras (`logger.info("...", extra={"job_id": 3})` gives `"job_id": 3`).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from app.observability import context

# Attributes every LogRecord has: everything else on a record is an extra worth printing.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "task_id",
}


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `task_id` from the context; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs a 4xx after the middleware returned (the context is reset by
            # then), but hands the request over: its id is on it.
            request = getattr(record, "request", None)
            record.request_id = context.request_id.get() or getattr(request, "request_id", "")
        if not getattr(record, "task_id", None):
            record.task_id = context.task_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            # Read from the context too, for records that reach a handler without the filter.
            "request_id": getattr(record, "request_id", None) or context.request_id.get() or None,
            "task_id": getattr(record, "task_id", None) or context.task_id.get() or None,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in document:
                document[key] = value
        if record.exc_info:
            document["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack_info"] = self.formatStack(record.stack_info)
        # default=str: an extra that JSON cannot hold (a datetime, a model) is logged as text.
        return json.dumps(document, default=str, ensure_ascii=False)


def celery_handlers_configure(logger: logging.Logger, *, log_format: str) -> None:
    """Give the handlers Celery installed (it replaces Django's on the root logger) our filter,
    and our formatter when logs are JSON."""
    for handler in logger.handlers:
        if not any(isinstance(f, RequestContextFilter) for f in handler.filters):
            handler.addFilter(RequestContextFilter())
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
