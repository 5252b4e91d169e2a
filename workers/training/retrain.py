"""Retraining with a champion–challenger gate, and the re-evaluation the health check needs.

`model_retrain` holds the retrain lock, skips when nothing new arrived since the last
training, trains a candidate (registered as `candidate`), scores the candidate AND the
serving champion on the candidate's validation slice — the same, freshest jobs for both — and
promotes it through the registry only if it is no worse beyond the tolerance; otherwise it is
`rejected` and the champion keeps serving. The decision, with the numbers, is in the row.

Bias worth knowing: the champion may have trained on part of that slice (the jobs that were
already there when it was trained), which favours the champion. The gate errs on the side of
keeping what serves.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from app.recommendations import registry
from app.recommendations.model_pointer import active_version_read, models_dir
from app.recommendations.models import ModelVersion
from workers.ml.store import ModelStoreError, load_model, metadata_path, weights_path
from workers.recommend.features import FEATURE_SCHEMA
from workers.training import gate, versions
from workers.training.data import TrainingSet, training_set_load
from workers.training.train import evaluate, model_train

logger = logging.getLogger(__name__)


def version_name(now: datetime) -> str:
    """`2026.12.01-0300`, with `-2`, `-3`… when that name is taken (registry or files)."""
    base = now.strftime("%Y.%m.%d-%H%M")
    directory = models_dir()
    for n in range(1, 1000):
        name = base if n == 1 else f"{base}-{n}"
        taken = ModelVersion.objects.filter(version=name).exists()
        if not taken and not metadata_path(directory, name).exists() and not weights_path(directory, name).exists():
            return name
    raise RuntimeError(f"no free version name from {base}")


def evaluate_version(version: str, data: TrainingSet) -> dict:
    """A stored version's evaluation on `data`'s validation slice (raises ModelStoreError)."""
    model, _ = load_model(models_dir(), version, expected_features=FEATURE_SCHEMA)
    return evaluate(model, data)


def active_model_evaluate(version: str) -> dict | None:
    """`version` re-evaluated on the latest validation slice; None when there is too little data."""
    row = ModelVersion.objects.filter(version=version).first()
    val_fraction = float((row.training_data if row else {}).get("val_fraction") or 0.2)
    try:
        data = training_set_load(val_fraction=val_fraction)
    except ValueError:
        return None
    return evaluate_version(version, data)


def _champion() -> str | None:
    active = registry.model_version_active()
    # A deployment from before the registry serves from the ACTIVE file alone.
    return active.version if active else active_version_read(models_dir())


def model_retrain(
    *,
    owner: str,
    force: bool = False,
    epochs: int | None = None,
    learning_rate: float | None = None,
    seed: int | None = None,
    now: datetime | None = None,
) -> dict:
    """Retrain once; returns {"status": locked|skipped|failed|promoted|rejected, "detail", "version"?}.

    `owner` names this run in the lock (the task id). `epochs` and `learning_rate` override
    model_train's defaults (tests make a deliberately weak candidate with them).
    """
    if not registry.retrain_lock_acquire(owner=owner):
        detail = f"refused: a retrain is already queued or running (task {registry.retrain_lock_holder()})"
        logger.warning("retrain %s %s", owner, detail)
        return {"status": "locked", "detail": detail}
    try:
        return _retrain(force=force, epochs=epochs, learning_rate=learning_rate, seed=seed, now=now)
    finally:
        registry.retrain_lock_release(owner=owner)


def _retrain(
    *, force: bool, epochs: int | None, learning_rate: float | None, seed: int | None, now: datetime | None
) -> dict:
    latest = gate.model_version_latest_trained()
    new = gate.training_data_new_since(latest)
    if latest is not None and not force and not new["reviews"] and not new["feedback"]:
        detail = (
            f"skipped: no new completed jobs with reviews and no new applied feedback since version "
            f"{latest.version} was trained (reviews until {latest.reviews_until}, feedback until {latest.feedback_until})"
        )
        logger.info("retrain %s", detail)
        return {"status": "skipped", "detail": detail}

    version = version_name(now or timezone.now())
    captured: dict[str, TrainingSet] = {}
    overrides = {k: v for k, v in {"epochs": epochs, "learning_rate": learning_rate}.items() if v is not None}
    logger.info(
        "retrain: training candidate %s (%d new reviews, %d new feedback events)",
        version,
        new["reviews"],
        new["feedback"],
    )
    try:
        report = model_train(
            version=version,
            seed=settings.RECOMMENDATION_RETRAIN_SEED if seed is None else seed,
            activate=False,
            register=True,
            on_loaded=lambda data: captured.setdefault("data", data),
            **overrides,
        )
    except (ValueError, ModelStoreError) as exc:
        logger.error("retrain failed: %s", exc)
        return {"status": "failed", "detail": str(exc)}

    decision = _decide(version, report.evaluation, captured["data"], new)
    return _conclude(version, decision)


def _decide(version: str, evaluation: dict, data: TrainingSet, new: dict) -> dict:
    """The gate's decision on the candidate, against the champion evaluated on the same slice."""
    champion_version, champion_eval, champion_error = _champion(), None, ""
    if champion_version:
        try:
            champion_eval = evaluate_version(champion_version, data)
        except (ModelStoreError, ValueError) as exc:
            # Its files are unusable: the workers cannot be serving it either.
            champion_error = str(exc)
            logger.error("champion %s cannot be evaluated: %s", champion_version, exc)
    decision = gate.promotion_decide(
        candidate=evaluation,
        champion=champion_eval,
        champion_version=champion_version if champion_eval else None,
    )
    decision.update(
        {
            "candidate_version": version,
            "decided_at": timezone.now().isoformat(),
            "validation": {
                "split_at": data.split_at,
                "val_samples": len(data.val),
                "ranking_rows": len(data.val_bidders),
            },
            "new_data": new,
        }
    )
    if champion_error:
        decision["champion_error"] = f"{champion_version}: {champion_error}"
    return decision


def _conclude(version: str, decision: dict) -> dict:
    """Activate a promoted candidate (or reject it, also when its files fail to load back)."""
    status = "rejected"
    if decision["verdict"] == "promote":
        try:
            registry.model_version_activate(
                version=version,
                by=None,
                decision=versions.json_safe(decision),
                check_files=versions.model_files_check_local,
            )
            status = "promoted"
        except registry.ModelFilesUnusable as exc:
            decision.update(verdict="reject", reason=f"its files cannot be loaded back: {exc}")
        except registry.ActivationUnavailable as exc:
            # The gate said yes but the workers could not be told: it stays a candidate, which
            # an operator can activate once Redis is back.
            ModelVersion.objects.filter(version=version).update(
                decision=versions.json_safe({**decision, "activation_error": str(exc)})
            )
            logger.error("retrain: %s passed the gate but could not be activated: %s", version, exc)
            return {"status": "failed", "version": version, "detail": f"passed the gate; activation failed: {exc}"}
    if status == "rejected":
        versions.model_version_reject(version=version, decision=decision)
    logger.info("retrain: %s %s: %s", status, version, decision["reason"])
    return {"status": status, "version": version, "detail": decision["reason"]}
