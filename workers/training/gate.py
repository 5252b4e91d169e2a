"""The champion–challenger gate: promote a retrained version, or refuse it and say why.

`promotion_decide` is pure: it compares metric dicts that the retrain computed on one
validation slice (workers/training/retrain.py). What counts as new training data since the
last version is read here too.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Max

from app.marketplace.models import CleaningJob, Review
from app.recommendations.models import ModelVersion, RecommendationFeedback
from app.recommendations.registry import GATE_METRICS, gate_metrics, gate_scorer


def model_version_latest_trained() -> ModelVersion | None:
    """The newest version with a recorded training cutoff, whatever became of it."""
    return (
        ModelVersion.objects.exclude(reviews_until__isnull=True, feedback_until__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )


def training_data_cutoff() -> dict[str, datetime | None]:
    """The newest review of a completed job, and the newest applied feedback event, right now."""
    return {
        "reviews_until": Review.objects.filter(job__status=CleaningJob.Status.COMPLETED).aggregate(m=Max("created_at"))[
            "m"
        ],
        "feedback_until": RecommendationFeedback.objects.aggregate(m=Max("applied_at"))["m"],
    }


def training_data_new_since(version: ModelVersion | None) -> dict[str, int]:
    """How many reviews of completed jobs and applied feedback events came after `version`'s cutoff."""
    reviews = Review.objects.filter(job__status=CleaningJob.Status.COMPLETED)
    feedback = RecommendationFeedback.objects.filter(applied_at__isnull=False)
    if version is not None and version.reviews_until is not None:
        reviews = reviews.filter(created_at__gt=version.reviews_until)
    if version is not None and version.feedback_until is not None:
        feedback = feedback.filter(applied_at__gt=version.feedback_until)
    return {"reviews": reviews.count(), "feedback": feedback.count()}


# One decision read top to bottom: no champion, then each metric against its tolerance.
def promotion_decide(
    *,
    candidate: dict,
    champion: dict | None,
    champion_version: str | None = None,
    tolerance: dict[str, float] | None = None,
    scorer: str | None = None,
) -> dict:
    """Promote the candidate, or refuse it; say why with the numbers.

    `candidate` and `champion` are evaluations (model_train's format) on the same validation
    slice. With a champion: promote unless a metric is worse than the champion's by more than
    its absolute tolerance. Without one: promote if it ranks better than the rule-based scorer.
    """
    tolerance = dict(tolerance or settings.RECOMMENDATION_PROMOTION_TOLERANCE)
    scorer = scorer or gate_scorer()
    cand = gate_metrics(candidate, scorer)
    base = {"scorer": scorer, "tolerance": tolerance, "candidate": cand, "champion_version": champion_version}
    if champion is None:
        mine, rule = cand["pairwise_accuracy"], gate_metrics(candidate, "rule_based")["pairwise_accuracy"]
        if mine is None or rule is None:
            return {
                **base,
                "verdict": "reject",
                "rule_based": {"pairwise_accuracy": rule},
                "reason": "no champion, and no ranking to compare with the rule-based scorer (too few jobs with several bidders)",
            }
        promote = mine > rule
        return {
            **base,
            "verdict": "promote" if promote else "reject",
            "rule_based": {"pairwise_accuracy": rule},
            "reason": f"no champion: pairwise accuracy {mine:.4f} {'beats' if promote else 'does not beat'} "
            f"the rule-based scorer's {rule:.4f}",
        }
    champ = gate_metrics(champion, scorer)
    comparisons, worse = [], []
    for metric in GATE_METRICS:
        mine, theirs, tol = cand[metric], champ[metric], float(tolerance[metric])
        if mine is None or theirs is None:
            comparisons.append({"metric": metric, "candidate": mine, "champion": theirs, "tolerance": tol, "ok": None})
            continue
        ok = mine >= theirs - tol
        comparisons.append(
            {
                "metric": metric,
                "candidate": mine,
                "champion": theirs,
                "difference": mine - theirs,
                "tolerance": tol,
                "ok": ok,
            }
        )
        if not ok:
            worse.append(
                f"{metric} {mine:.4f} vs the champion's {theirs:.4f} (worse by {theirs - mine:.4f}, tolerance {tol:g})"
            )
    decision = {**base, "champion": champ, "comparisons": comparisons}
    if not any(c["ok"] is not None for c in comparisons):
        return {**decision, "verdict": "reject", "reason": "no metric could be compared with the champion's"}
    if worse:
        return {**decision, "verdict": "reject", "reason": f"worse than {champion_version}: " + "; ".join(worse)}
    summary = ", ".join(f"{c['metric']} {c['candidate']:.4f} vs {c['champion']:.4f}" for c in comparisons if c["ok"])
    return {
        **decision,
        "verdict": "promote",
        "reason": f"no worse than {champion_version} beyond the tolerance: {summary}",
    }
