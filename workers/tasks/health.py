"""The daily model health check (see workers/training/health.py)."""

from __future__ import annotations

import logging

from celery import shared_task

from workers import names

logger = logging.getLogger(__name__)


# Re-evaluating means loading the marketplace's completed jobs: seconds to a few minutes.
@shared_task(name=names.MODEL_HEALTH_CHECK, soft_time_limit=600, time_limit=900, acks_late=True)
def model_health_check() -> dict:
    """Check, record and alert; also re-publishes the active version where a pointer drifted.

    Run twice, it records two checks and sends two alerts: harmless once a day.
    """
    from app.recommendations.registry import active_pointer_sync
    from workers.training.health import model_health_check as check
    from workers.training.retrain import active_model_evaluate

    try:
        active_pointer_sync()
    except Exception:  # Redis trouble must not stop the check itself
        logger.exception("could not re-publish the active model version")
    result = check(evaluate=active_model_evaluate)
    return {
        "id": result.pk,
        "version": result.version,
        "verdict": result.verdict,
        "alerted": result.alerted,
        "problems": result.problems,
    }
