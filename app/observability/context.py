"""The ids of the work this thread or task is doing now, for logs and outgoing messages.

Context variables rather than thread locals: gunicorn's gthread workers serve one request per
thread, and a Celery prefork child runs one task at a time, so either way the value belongs to
exactly one request or task.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")
task_id: ContextVar[str] = ContextVar("task_id", default="")

# A client's id is echoed in headers and logs: only short, plain tokens are taken as they are.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

HEADER = "X-Request-ID"
# The Celery message header that carries it (Celery copies custom headers onto task.request).
MESSAGE_HEADER = "request_id"


def request_id_sanitize(value: str | None) -> str:
    """`value` if it is a sane token (1-64 of [A-Za-z0-9._-]), else a new uuid4 hex."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex
