"""Rows and files the operator page reads: a model's metadata, registry rows, recommendations."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from app.recommendations.models import JobRecommendation, ModelVersion
from tests import factories as f

METRICS = {
    "r2": 0.61,
    "mse": 1.44,
    "mae": 0.93,
    "ceiling_r2": 0.74,
    "r2_of_ceiling": 0.82,
    "ranking": {
        "neural": {"pairwise_accuracy": 0.71, "ndcg_at_5": 0.83, "groups": 120},
        "ensemble": {"pairwise_accuracy": 0.69, "ndcg_at_5": 0.81, "groups": 120},
        "rule_based": {"pairwise_accuracy": 0.62, "ndcg_at_5": 0.74, "groups": 120},
        "random": {"pairwise_accuracy": 0.50, "ndcg_at_5": 0.60, "groups": 120},
    },
}


def history(epochs: int = 8) -> list[dict]:
    return [
        {"epoch": e, "train_loss": 2.0 / e, "val_loss": 2.2 / e + 0.05, "alpha": 0.5 + 0.03 * e}
        for e in range(1, epochs + 1)
    ]


def metadata_write(directory: Path, version: str, *, epochs: int = 8, metrics: dict | None = None) -> Path:
    path = directory / f"hybrid_recommendation_v{version}_metadata.json"
    document = {
        "version": version,
        "created_at": "2026-01-02T03:04:05+00:00",
        "metrics": metrics or METRICS,
        "history": history(epochs),
        "extra": {"training_data": {"train_samples": 2400, "val_samples": 600, "completed_jobs": 1500}},
    }
    path.write_text(json.dumps(document))
    return path


def registry_rows(active: str, *, metrics: dict | None = None) -> None:
    ModelVersion.objects.create(
        version="0.9",
        status=ModelVersion.Status.RETIRED,
        metrics=METRICS,
        decision={"verdict": "promote", "reason": "no champion yet"},
    )
    ModelVersion.objects.create(
        version=active,
        status=ModelVersion.Status.ACTIVE,
        metrics=metrics or METRICS,
        promoted_at=timezone.now(),
        decision={"verdict": "promote", "reason": "no worse than 0.9 beyond the tolerance"},
    )
    ModelVersion.objects.create(
        version="1.1",
        status=ModelVersion.Status.REJECTED,
        metrics=METRICS,
        decision={"verdict": "reject", "reason": "worse than 1.0: pairwise 0.60 < 0.71"},
    )


def recommendations_over_days(days: int = 5, per_day: int = 10) -> None:
    """Job recommendations made on each of the last `days` days, more of them accepted each day."""
    job = f.job()
    cleaner = f.cleaner()
    now = timezone.now()
    for day in range(days):
        created = now - timedelta(days=days - 1 - day, hours=1)
        rows = []
        for i in range(per_day):
            viewed = i < per_day - 2
            bid = viewed and i < per_day - 4
            accepted = bid and i < 1 + day
            rows.append(
                JobRecommendation(
                    job=job,
                    cleaner=cleaner,
                    score=0.5,
                    rank=i + 1,
                    mode="ensemble",
                    was_viewed=viewed,
                    was_bid_placed=bid,
                    was_bid_accepted=accepted,
                )
            )
        made = JobRecommendation.objects.bulk_create(rows)
        JobRecommendation.objects.filter(pk__in=[r.pk for r in made]).update(created_at=created)
