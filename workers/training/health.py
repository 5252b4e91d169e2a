"""The daily model health check: is the active model still doing as well as when it was promoted?

Two kinds of evidence, each compared with the active version's own baseline:

- online rates of the last 7 days, from the flags feedback sets on recommendation rows —
  a recommended job viewed then bid on, a bid then accepted, a recommended cleaner viewed
  then hired — against the same rates over the 30 days before the version was promoted
  (`ModelVersion.baseline`, captured by `registry.model_version_activate`). The rates are the
  service's as users meet them, whichever model or fallback produced each row;
- offline metrics: the version re-evaluated on the latest validation slice (the worker passes
  `evaluate`, which needs torch) against its metrics at training time.

A relative drop beyond `RECOMMENDATION_ALERT_DROP`, on at least `RECOMMENDATION_ALERT_MIN_COUNT`
events in both periods for a rate, logs an ERROR and sends a signed `model.degraded` webhook to
every active operator's endpoints. Each run is recorded as a `ModelHealthCheck`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from app.recommendations.models import ModelHealthCheck, ModelVersion
from app.recommendations.registry import GATE_METRICS, gate_metrics, gate_scorer
from app.recommendations.stats import online_rates
from app.webhooks.services import webhook_alert_send

logger = logging.getLogger(__name__)

WINDOW = timedelta(days=7)
EVENT_MODEL_DEGRADED = "model.degraded"


def relative_drop(before: float | None, now: float | None) -> float | None:
    """How far `now` fell below `before`, as a share of `before`; None when not comparable."""
    if before is None or now is None or before <= 0:
        return None
    return (before - now) / before


def _online_problems(online: dict, baseline: dict, threshold: float, min_count: int) -> list[str]:
    problems = []
    for name, now in online["rates"].items():
        before = (baseline.get("rates") or {}).get(name)
        if not before or now["n"] < min_count or before["n"] < min_count:
            continue  # too few events to tell a drop from noise
        drop = relative_drop(before["rate"], now["rate"])
        if drop is not None and drop > threshold:
            problems.append(
                f"{name} fell from {before['rate']:.3f} ({before['hits']}/{before['n']}) to "
                f"{now['rate']:.3f} ({now['hits']}/{now['n']}) in the last 7 days: {drop:.0%} below its baseline"
            )
    return problems


def _offline_problems(at_promotion: dict, now: dict, threshold: float) -> list[str]:
    problems = []
    for metric in GATE_METRICS:
        drop = relative_drop(at_promotion.get(metric), now.get(metric))
        if drop is not None and drop > threshold:
            problems.append(
                f"offline {metric} fell from {at_promotion[metric]:.4f} to {now[metric]:.4f} "
                f"on the latest validation slice: {drop:.0%} below its value at training"
            )
    return problems


def model_health_check(
    *,
    evaluate: Callable[[str], dict | None] | None = None,
    now: datetime | None = None,
) -> ModelHealthCheck:
    """Check the active version, record the check, alert operators on a degradation.

    `evaluate(version)` returns the version's evaluation on the latest validation slice
    (model_train's format), or None when there is too little data; None skips the offline part.
    """
    now = now or timezone.now()
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if active is None:
        return ModelHealthCheck.objects.create(verdict=ModelHealthCheck.Verdict.NO_MODEL)
    threshold, min_count = settings.RECOMMENDATION_ALERT_DROP, settings.RECOMMENDATION_ALERT_MIN_COUNT
    online = online_rates(since=now - WINDOW, until=now)
    problems = _online_problems(online, active.baseline or {}, threshold, min_count)

    scorer = gate_scorer()
    offline: dict = {"scorer": scorer, "at_training": gate_metrics(active.metrics, scorer)}
    if evaluate is not None:
        try:
            evaluation = evaluate(active.version)
        except Exception as exc:  # the online half of the check still counts
            logger.exception("could not re-evaluate model %s", active.version)
            offline["error"] = f"{type(exc).__name__}: {exc}"
        else:
            if evaluation is None:
                offline["skipped"] = "too little data for a validation slice"
            else:
                offline["now"] = gate_metrics(evaluation, scorer)
                problems += _offline_problems(offline["at_training"], offline["now"], threshold)

    check = ModelHealthCheck.objects.create(
        version=active.version,
        online=online,
        baseline=active.baseline or {},
        offline=offline,
        problems=problems,
        verdict=ModelHealthCheck.Verdict.DEGRADED if problems else ModelHealthCheck.Verdict.OK,
    )
    if problems:
        logger.error("model %s is degrading: %s", active.version, "; ".join(problems))
        data = {
            "check_id": check.pk,
            "model_version": active.version,
            "problems": problems,
            "threshold": threshold,
            "online": online,
            "baseline": active.baseline,
            "offline": offline,
        }
        sent = webhook_alert_send(event=EVENT_MODEL_DEGRADED, data=data, key=f"model-health-check:{check.pk}")
        if sent:
            check.alerted = True
            check.save(update_fields=["alerted"])
        else:
            logger.error("no operator has an active webhook endpoint: the model alert was only logged")
    return check
