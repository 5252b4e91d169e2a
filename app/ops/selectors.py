"""Reads for the operator page and the model gauge; every one degrades instead of failing.

Which version is active: the registry (`ModelVersion`, status active) first, then what the
workers are told to serve (the Redis key `recsvc:model:active`, then the `ACTIVE` file in
RECOMMENDATION_MODELS_DIR) for a version trained before the registry existed. A version's
training history lives only in its metadata file, read here as plain JSON: the model store
(`workers.ml.store`) imports torch, which the web never loads; the file names are shared
through `workers.names`.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from app.recommendations import registry, stats
from app.recommendations.experiments import experiment_results
from app.recommendations.feedback import MAX_APPLY_FAILURES
from app.recommendations.model_pointer import active_version_published, active_version_read, models_dir
from app.recommendations.models import ModelVersion, RecommendationFeedback
from workers import names

logger = logging.getLogger(__name__)

SCORERS = ("neural", "ensemble", "rule_based", "random")


def model_active_version() -> str | None:
    """The registry's active version; without one, the version the workers are told to serve."""
    try:
        active = registry.model_version_active()
    except DatabaseError:  # the registry's table is not migrated yet
        logger.warning("model registry unreadable; using the published pointer")
        active = None
    if active is not None:
        return active.version
    return active_version_published() or active_version_read()


def model_metadata_read(version: str, directory: Path | None = None) -> dict[str, Any] | None:
    """The version's metadata document, or None if it is missing or unreadable here."""
    if not names.model_version_valid(version):  # a version from the database never leaves the directory
        return None
    path = (directory or models_dir()) / names.model_metadata_file(version)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def model_overview() -> dict[str, Any] | None:
    """The active version with its metrics and training history; None when nothing is active."""
    version = model_active_version()
    if not version:
        return None
    metadata = model_metadata_read(version) or {}
    row = _registry_row(version)
    metrics = (row.metrics if row is not None else None) or metadata.get("metrics") or {}
    ranking = metrics.get("ranking") or {}
    training_data = (row.training_data if row is not None else None) or (metadata.get("extra") or {}).get(
        "training_data"
    )
    # The metadata file has the per-epoch history; the registry row a copy, for a web process
    # without the models volume.
    history = metadata.get("history") or (training_data or {}).get("history") or []
    return {
        "version": version,
        "status": row.status if row is not None else "active",
        "created_at": row.created_at if row is not None else metadata.get("created_at"),
        "promoted_at": row.promoted_at if row is not None else None,
        "metrics": metrics,
        "ranking": [{"scorer": name, **ranking[name]} for name in SCORERS if isinstance(ranking.get(name), dict)],
        "history": history,
        "training_data": training_data or {},
    }


def _registry_row(version: str) -> ModelVersion | None:
    try:
        return ModelVersion.objects.filter(version=version).first()
    except DatabaseError:
        return None


def model_versions_recent(*, limit: int = 10) -> list[ModelVersion] | None:
    """The newest registry rows (retrains and their decisions); None if the registry is unreadable."""
    try:
        return list(registry.model_versions_list()[:limit])
    except DatabaseError:
        return None


def acceptance_by_day(*, days: int = 30) -> list[dict[str, Any]]:
    """Per day over the last `days`: the job funnel's counts and view, bid and acceptance rates."""
    until = timezone.now()
    return stats.funnel_breakdowns(stats.JOB_FUNNEL, since=until - timedelta(days=days), until=until)["by_day"]


def ab_results(*, days: int = 30) -> dict[str, Any] | None:
    """B against A over the last `days`; None when A/B testing is off."""
    if not settings.RECOMMENDATION_AB_TEST_ENABLED:
        return None
    until = timezone.now()
    return experiment_results(since=until - timedelta(days=days), until=until)


def feedback_dead_letters(*, limit: int = 10) -> dict[str, Any] | None:
    """Feedback events set aside after failing again and again: how many, and the latest few."""
    try:
        dead = RecommendationFeedback.objects.filter(dead_at__isnull=False, applied_at__isnull=True)
        return {
            "count": dead.count(),
            "after_failures": MAX_APPLY_FAILURES,
            "latest": list(
                dead.order_by("-dead_at").values("pk", "event", "dead_at", "apply_failures", "last_error")[:limit]
            ),
        }
    except DatabaseError:
        return None
