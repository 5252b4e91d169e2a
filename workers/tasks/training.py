"""Model lifecycle tasks: the retrain (its own queue and worker), and two small registry chores.

`training.retrain` is sent monthly by beat and on demand by operators (API, admin). It may
be delivered twice (two beats, a redelivery after a crash, an operator's click beside the
schedule): the retrain lock in Redis lets one run at a time, and the skip on "no new data
since the last training" makes a repeat harmless.
"""

from __future__ import annotations

import logging

from celery import shared_task

from workers import names

logger = logging.getLogger(__name__)

# The lock's TTL (registry.RETRAIN_LOCK_TTL) must stay above the hard limit, and the broker's
# visibility timeout (settings, 4 h) above both.
RETRAIN_SOFT_LIMIT = 3300
RETRAIN_HARD_LIMIT = 3600


@shared_task(
    name=names.RETRAIN, bind=True, soft_time_limit=RETRAIN_SOFT_LIMIT, time_limit=RETRAIN_HARD_LIMIT, acks_late=True
)
def retrain(self, force: bool = False, epochs: int | None = None, learning_rate: float | None = None) -> dict:
    """Returns {"status": locked|skipped|failed|promoted|rejected, "detail", "version"?}."""
    from workers.training.retrain import model_retrain

    result = model_retrain(owner=self.request.id or "", force=force, epochs=epochs, learning_rate=learning_rate)
    logger.info("retrain %s: %s", result["status"], result["detail"])
    return result


@shared_task(name=names.MODEL_VERSION_CHECK, soft_time_limit=20, time_limit=30)
def model_version_check(version: str) -> dict:
    """Can this worker load `version`? Asked by the web before it activates one."""
    from workers.training.versions import model_files_check_local

    error = model_files_check_local(version)
    return {"version": version, "ok": error is None, "error": error}


@shared_task(name=names.MODEL_POINTER_SYNC, soft_time_limit=20, time_limit=30)
def model_pointer_sync() -> str | None:
    """Write the registry's active version to the ACTIVE file (and Redis) where they differ."""
    from app.recommendations.registry import active_pointer_sync

    return active_pointer_sync()
