"""How the web hands work to the workers: a task sent by name, never by importing it.

Sending by name (`workers.names`) keeps the task modules, the ML code and torch out of the web
process. `QueueUnavailable` is what every web service raises when the broker did not take a task.
"""

from __future__ import annotations

from typing import Any

from workers import celery


class QueueUnavailable(Exception):
    """The broker did not take the task."""


def task_send(name: str, **options: Any) -> Any:
    """`send_task` on the service's Celery app; raises QueueUnavailable when the broker refuses it."""
    try:
        return celery.app.send_task(name, **options)
    except Exception as exc:  # any broker failure: the caller decides what it means
        raise QueueUnavailable(f"the broker did not take {name}") from exc
