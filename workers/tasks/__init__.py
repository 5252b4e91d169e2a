"""Celery tasks: thin, idempotent interfaces that load by id and call one service."""

# runtime: the per-process warm-up; metrics: task metrics and the worker's /metrics.
from workers import metrics, runtime  # noqa: F401
from workers.tasks import feedback, health, maintenance, recommendations, training, webhooks  # noqa: F401
