"""Bid suggestion: what price a cleaner should bid on a job.

Learned from the market, not from a formula: the hourly prices of accepted bids on jobs of the
same service, weighted by how similar each job is (size and duration), give the market's
price; the cleaner's own rate and quality move it. The range is the weighted interquartile
range; confidence grows with the number of comparable jobs and shrinks with their spread.
"""

from __future__ import annotations

import numpy as np

from app.marketplace.models import SERVICE_TYPES, CleanerProfile, CleaningJob
from workers.recommend import candidates

# How far the cleaner's own rate pulls the suggestion from the market's (0 = market only).
OWN_RATE_WEIGHT = 0.35
# Quality premium: a top cleaner may ask up to this much more than an average one.
QUALITY_PREMIUM = 0.15
# Comparable jobs at which confidence from volume reaches one half.
HALF_CONFIDENCE_N = 20
MAX_COMPARABLES = 400


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return [float(np.interp(q, cum, v)) for q in qs]


def _comparables(service: str) -> np.ndarray:
    rows = list(
        CleaningJob.objects.filter(service_type=service, bids__status="accepted", property__isnull=False)
        .order_by("-scheduled_start")
        .values_list("bids__amount", "duration_hours", "property__size_sqft")[:MAX_COMPARABLES]
    )
    if not rows:
        return np.zeros((0, 3))
    return np.array([[float(a), float(d), float(s)] for a, d, s in rows])


def bid_suggestion(*, job: CleaningJob, cleaner: CleanerProfile) -> dict:
    context = candidates.job_context(job_id=job.pk)
    cleaner_cols = candidates.cleaner_columns(cleaner_id=cleaner.pk)
    duration = max(context["duration_hours"], 0.25)
    own_rate = float(cleaner.hourly_rate)
    quality = float(cleaner_cols["quality"][0])
    comps = _comparables(SERVICE_TYPES[int(context["service_idx"])])

    if len(comps):
        per_hour = comps[:, 0] / np.maximum(comps[:, 1], 0.25)
        # Similar jobs count more: a Gaussian kernel on log size and log duration.
        d_size = np.log(np.maximum(comps[:, 2], 100) / max(context["size_sqft"], 100))
        d_dur = np.log(np.maximum(comps[:, 1], 0.25) / duration)
        weights = np.exp(-(d_size**2 + d_dur**2) / (2 * 0.35**2)) + 1e-6
        low_rate, market_rate, high_rate = _weighted_quantiles(per_hour, weights, (0.25, 0.5, 0.75))
        effective_n = float(weights.sum() ** 2 / (weights**2).sum())
        spread = (high_rate - low_rate) / max(market_rate, 1e-6)
    else:
        # No market yet: the cleaner's own rate, with a wide range and low confidence.
        market_rate, low_rate, high_rate = own_rate, own_rate * 0.85, own_rate * 1.15
        effective_n, spread = 0.0, 0.3

    adjustment = 1.0 + QUALITY_PREMIUM * (2.0 * quality - 1.0)
    rate = ((1 - OWN_RATE_WEIGHT) * market_rate + OWN_RATE_WEIGHT * own_rate) * adjustment
    scale = rate / max(market_rate, 1e-6)
    amount = rate * duration
    low, high = low_rate * scale * duration, high_rate * scale * duration
    budget = context["budget"]
    volume = effective_n / (effective_n + HALF_CONFIDENCE_N)
    confidence = float(np.clip(volume * (1.0 - min(spread, 1.0) / 2.0), 0.0, 1.0))
    return {
        "suggested_amount": round(amount, 2),
        "low": round(min(low, amount), 2),
        "high": round(max(high, amount), 2),
        "confidence": round(confidence, 3),
        "components": {
            "market_rate_per_hour": round(market_rate, 2),
            "own_rate_per_hour": round(own_rate, 2),
            "quality_adjustment": round(adjustment, 4),
            "comparable_jobs": len(comps),
            "effective_comparables": round(effective_n, 1),
            "duration_hours": duration,
            "budget": budget,
            "over_budget": amount > budget,
        },
    }
