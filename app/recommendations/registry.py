"""The model registry: which versions exist, which one serves, and how a version becomes active.

Every trained version is a `ModelVersion` row. `model_version_activate` is the one way a
version starts serving: in one transaction, holding the registry's row locks, it makes the row
`active` (the previous one `retired`) and publishes the version where the workers look for
it — the Redis key `recsvc:model:active`, read by every task, and the `ACTIVE` file in the
models directory, the fallback when Redis has lost the key. (Should the commit itself fail
after that, the daily health check re-publishes what the registry says.) Before that it makes sure the workers can load the
files: a worker loads them and answers (`model_files_check_remote`), or this process does
when it has the files and torch (`model_files_check_local`, for the trainer).

The champion–challenger gate (`promotion_decide`) is pure: it compares metric dicts that the
retrain task computed on one validation slice (see workers/training/retrain.py).

No torch here: the web imports this module.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from app.common.redis_client import client
from app.common.tasks import QueueUnavailable, task_send
from app.recommendations.cache import generation_bump
from app.recommendations.model_pointer import ACTIVE_KEY, active_version_read, active_version_write, models_dir
from app.recommendations.models import ModelVersion
from app.recommendations.stats import online_rates
from workers import names

logger = logging.getLogger(__name__)

Status = ModelVersion.Status

RETRAIN_LOCK_KEY = "recsvc:lock:retrain"
# Above the hard time limit of `training.retrain` (workers/tasks/training.py, 3600 s): a lock
# that expired while its retrain still ran would let a second one start.
RETRAIN_LOCK_TTL = 4200
BASELINE_WINDOW = timedelta(days=30)
GATE_METRICS = ("pairwise_accuracy", "ndcg_at_5", "r2")

# Compare-and-delete: release the lock only if it is still ours (it may have expired and been
# taken by another retrain since).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class ModelFilesUnusable(Exception):
    """The version's files are missing, corrupt or incompatible: a worker would refuse them."""


class ActivationUnavailable(Exception):
    """Nothing changed: no worker confirmed it can load the version, or Redis is unreachable."""


class RetrainAlreadyRunning(Exception):
    def __init__(self, holder: str) -> None:
        super().__init__(f"a retrain is already queued or running (task {holder})")
        self.holder = holder


# Selectors ---------------------------------------------------------------------------------


def model_versions_list() -> QuerySet[ModelVersion]:
    """Every version, newest first."""
    return ModelVersion.objects.select_related("promoted_by").order_by("-created_at", "-id")


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=Status.ACTIVE).first()


# The gate ----------------------------------------------------------------------------------


def gate_scorer() -> str:
    """The scorer the gate judges: the one the service serves with (neural when rule-based)."""
    mode = settings.RECOMMENDATION_MODE
    return mode if mode in ("neural", "ensemble") else "neural"


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def gate_metrics(evaluation: dict | None, scorer: str) -> dict[str, float | None]:
    """Pairwise accuracy and NDCG@5 of `scorer`, and the model's R², from model_train's evaluation."""
    evaluation = evaluation or {}
    ranking = (evaluation.get("ranking") or {}).get(scorer) or {}
    return {
        "pairwise_accuracy": _finite(ranking.get("pairwise_accuracy")),
        "ndcg_at_5": _finite(ranking.get("ndcg_at_5")),
        "r2": _finite(evaluation.get("r2")),
    }


# Files -------------------------------------------------------------------------------------


def model_files_check_remote(version: str) -> str | None:
    """Ask a serving worker to load the version; the reason it cannot, or None."""
    timeout = settings.RECOMMENDATION_MODEL_CHECK_TIMEOUT
    try:
        answer = task_send(names.MODEL_VERSION_CHECK, args=[version]).get(timeout=timeout)
    except Exception as exc:  # broker down, or no worker answered in time
        raise ActivationUnavailable(
            f"no worker confirmed within {timeout:g} s that it can load version {version}; retry shortly"
        ) from exc
    return answer.get("error") or None


# Services ----------------------------------------------------------------------------------


def model_version_activate(
    *,
    version: str,
    by=None,
    decision: dict | None = None,
    check_files: Callable[[str], str | None] = model_files_check_remote,
) -> ModelVersion:
    """Make `version` the active one (rollback and roll forward alike) and tell the workers.

    Raises ModelVersion.DoesNotExist, ModelFilesUnusable (nothing changed) or
    ActivationUnavailable. `by` is the operator; None for the automatic gate.
    """
    if not ModelVersion.objects.filter(version=version).exists():
        raise ModelVersion.DoesNotExist(f"no model version {version!r} in the registry")
    # Outside the transaction: it may wait seconds for a worker.
    if (error := check_files(version)) is not None:
        raise ModelFilesUnusable(error)
    now = timezone.now()
    baseline = online_rates(since=now - BASELINE_WINDOW, until=now)
    with transaction.atomic():
        # Lock every row, not just the active one: the set `status='active'` is fixed before
        # the wait, so two activations locking only that could both succeed. The registry
        # holds dozens of rows; the partial unique constraint is the backstop.
        rows = list(ModelVersion.objects.select_for_update().order_by("pk"))
        target = next((r for r in rows if r.version == version), None)
        if target is None:
            raise ModelVersion.DoesNotExist(f"no model version {version!r} in the registry")
        previous = [r.version for r in rows if r.status == Status.ACTIVE and r.pk != target.pk]
        ModelVersion.objects.filter(version__in=previous).update(status=Status.RETIRED)
        target.status, target.promoted_at, target.promoted_by, target.baseline = Status.ACTIVE, now, by, baseline
        target.decision = (
            decision
            if decision
            else {
                "verdict": "promote",
                "reason": f"activated by {by.get_username() if by else 'the training command'}"
                f"{' (was ' + ', '.join(previous) + ')' if previous else ''}",
                "previous": previous,
            }
        )
        target.save(update_fields=["status", "promoted_at", "promoted_by", "baseline", "decision"])
        # Published under the row locks, so two activations publish in the order they commit:
        # after commit, the second could publish first and leave the workers on the loser.
        _publish(version)
    generation_bump("model")
    logger.info("model %s activated by %s (was %s)", version, by or "no operator", ", ".join(previous) or "none")
    return target


def _publish(version: str) -> None:
    """Tell the workers: the Redis key (read by every task), then the ACTIVE file (the fallback).

    Raises ActivationUnavailable, with the key put back, when either cannot be written: the
    transaction then rolls back and nothing has changed.
    """
    redis = client()
    try:
        before = redis.get(ACTIVE_KEY)
        redis.set(ACTIVE_KEY, version)
    except Exception as exc:
        raise ActivationUnavailable(f"Redis is unreachable, so the workers cannot be told: {exc}") from exc
    try:
        directory = models_dir()
        if directory.is_dir():
            active_version_write(version, directory)
        else:
            # No models volume here (the web): a worker that has it writes the file from the
            # committed registry.
            transaction.on_commit(partial(_send, names.MODEL_POINTER_SYNC), robust=True)
    except Exception as exc:
        if before is None:
            redis.delete(ACTIVE_KEY)
        else:
            redis.set(ACTIVE_KEY, before)
        raise ActivationUnavailable(f"could not write the ACTIVE file: {exc}") from exc


def active_pointer_sync() -> str | None:
    """Publish the registry's active version again where it differs. Run on a worker (it has
    the models volume): after an activation by the web, and daily by the health check."""
    active = model_version_active()
    if active is None:
        return None
    if active_version_read(models_dir()) != active.version:
        active_version_write(active.version, models_dir())
    current = client().get(ACTIVE_KEY)
    if current is None or current.decode() != active.version:
        client().set(ACTIVE_KEY, active.version)
        generation_bump("model")
    return active.version


# The retrain lock --------------------------------------------------------------------------


def retrain_lock_acquire(*, owner: str) -> bool:
    """Take the lock for `owner`; True also when `owner` holds it already (it was taken for
    the task when it was enqueued, or this is a redelivery of the task whose worker died)."""
    redis = client()
    if redis.set(RETRAIN_LOCK_KEY, owner, nx=True, ex=RETRAIN_LOCK_TTL):
        return True
    if retrain_lock_holder() == owner:
        redis.expire(RETRAIN_LOCK_KEY, RETRAIN_LOCK_TTL)  # the clock starts when the work does
        return True
    return False


def retrain_lock_release(*, owner: str) -> bool:
    return bool(client().eval(_RELEASE, 1, RETRAIN_LOCK_KEY, owner))


def retrain_lock_holder() -> str | None:
    value = client().get(RETRAIN_LOCK_KEY)
    return value.decode() if value else None


def _send(task: str, **options) -> None:
    task_send(task, **options)


def model_retrain_enqueue(*, force: bool = False) -> str:
    """Queue a retrain and return its task id. The lock is taken here, in the task's name, so
    a second request while one is queued or running is refused at once."""
    task_id = str(uuid.uuid4())
    try:
        acquired = retrain_lock_acquire(owner=task_id)
    except Exception as exc:
        raise QueueUnavailable from exc
    if not acquired:
        raise RetrainAlreadyRunning(retrain_lock_holder() or "unknown")
    try:
        _send(names.RETRAIN, kwargs={"force": force}, task_id=task_id)
    except Exception as exc:
        retrain_lock_release(owner=task_id)
        raise QueueUnavailable from exc
    return task_id
