"""Recording trained versions in the registry, and checking a version's files as a worker would."""

from __future__ import annotations

import logging
from datetime import datetime

from app.recommendations.model_pointer import models_dir
from app.recommendations.models import ModelVersion
from workers.ml.store import json_safe

logger = logging.getLogger(__name__)

Status = ModelVersion.Status


def model_files_check_local(version: str) -> str | None:
    """Load the version as a worker would; the reason it cannot, or None. Needs torch and the files."""
    try:
        from workers.ml.store import ModelStoreError, load_model
        from workers.recommend.features import FEATURE_SCHEMA
    except ImportError as exc:
        return f"this process cannot load models: {exc}"
    try:
        load_model(models_dir(), version, expected_features=FEATURE_SCHEMA)
    except (ModelStoreError, ValueError) as exc:
        return str(exc)
    return None


def model_version_register(
    *,
    version: str,
    metrics: dict,
    training_data: dict,
    cutoff: dict[str, datetime | None],
) -> ModelVersion:
    """Record a newly trained version as a candidate."""
    return ModelVersion.objects.create(
        version=version,
        status=Status.CANDIDATE,
        metrics=json_safe(metrics),
        training_data=json_safe(training_data),
        reviews_until=cutoff.get("reviews_until"),
        feedback_until=cutoff.get("feedback_until"),
    )


def model_version_reject(*, version: str, decision: dict) -> ModelVersion:
    row = ModelVersion.objects.get(version=version)
    row.status, row.decision = Status.REJECTED, json_safe(decision)
    row.save(update_fields=["status", "decision"])
    logger.warning("model %s rejected: %s", version, decision.get("reason"))
    return row
