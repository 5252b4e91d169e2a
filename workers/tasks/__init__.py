"""Celery tasks: thin, idempotent interfaces that load by id and call one service."""

from workers import runtime  # noqa: F401  (connects the per-process warm-up)
from workers.tasks import feedback, maintenance, recommendations, webhooks  # noqa: F401
