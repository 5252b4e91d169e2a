"""One request id from the web request, through its Celery tasks, to the webhooks they send.

The publisher copies its context's request id into the message headers (`before_task_publish`,
in the web and in a worker task that enqueues another); the worker puts it back into the
context before the task runs (`task_prerun`) and clears it afterwards (`task_postrun`). Celery
copies custom message headers onto `task.request`, which is where the id is read from.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import after_setup_logger, after_setup_task_logger, before_task_publish, task_postrun, task_prerun
from django.conf import settings

from app.observability import context
from app.observability.logging import celery_handlers_configure

# Tokens to undo each running task's context; a prefork child runs one task at a time, a
# thread pool several, hence keyed by task id.
_tokens: dict[str, tuple[Any, Any]] = {}


@before_task_publish.connect(dispatch_uid="observability.request_id_publish")
def _request_id_publish(headers: dict | None = None, **kwargs: Any) -> None:
    rid = context.request_id.get()
    if rid and headers is not None:
        headers.setdefault(context.MESSAGE_HEADER, rid)


@task_prerun.connect(dispatch_uid="observability.request_id_enter")
def _request_id_enter(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    incoming = getattr(task.request, context.MESSAGE_HEADER, None) if task is not None else None
    # Headers come from whoever can publish to the broker: sanitize like the HTTP header. A task
    # enqueued outside any request (beat, the shell) gets no id rather than a made-up one.
    rid = context.request_id_sanitize(incoming) if incoming else ""
    _tokens[task_id] = (context.request_id.set(rid), context.task_id.set(task_id or ""))


@task_postrun.connect(dispatch_uid="observability.request_id_exit")
def _request_id_exit(task_id: str = "", **kwargs: Any) -> None:
    tokens = _tokens.pop(task_id, None)
    if tokens is None:
        return
    try:
        context.request_id.reset(tokens[0])
        context.task_id.reset(tokens[1])
    except ValueError:  # set in another context (a thread pool's other thread): just clear
        context.request_id.set("")
        context.task_id.set("")


@after_setup_logger.connect(dispatch_uid="observability.celery_logger")
@after_setup_task_logger.connect(dispatch_uid="observability.celery_task_logger")
def _celery_logging(logger: logging.Logger | None = None, **kwargs: Any) -> None:
    if logger is not None:
        celery_handlers_configure(logger, log_format=settings.LOG_FORMAT)
