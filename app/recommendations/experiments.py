"""A/B testing: which variant serves whom, and which variant is doing better.

Assignment is a pure, stable function of the experiment name and the subject's user id
(sha256, not Python's salted `hash()`); a variant is a mode or a pinned model version.
Results compare the variants' rows with a two-proportion z-test. Settings, the subject rule
and how to read a new experiment's results: docs/experiments.md.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q

from app.recommendations import stats
from app.recommendations.models import Mode, RecommendationRequest

BUCKETS = 10_000
VARIANTS = ("A", "B")
MAX_VERSION_LENGTH = 32  # RecommendationRequest.pinned_model_version
# 95% two-sided: the normal quantile for the confidence intervals, and the significance level.
Z_95 = 1.959963984540054
ALPHA = 0.05
MIN_TRIALS_PER_VARIANT = 100


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantSpec:
    """A parsed RECOMMENDATION_AB_VARIANT_* value."""

    spec: str
    mode: str  # "" for a pinned model: the engine's default mode at assignment time
    model_version: str


def variant_spec_parse(spec: str) -> VariantSpec:
    """Parse "mode:<mode>" or "model:<version>"; ValueError with a readable message otherwise."""
    kind, sep, value = (spec or "").strip().partition(":")
    value = value.strip()
    if sep and kind == "mode" and value in Mode.values:
        return VariantSpec(spec=spec, mode=value, model_version="")
    if sep and kind == "model" and value and len(value) <= MAX_VERSION_LENGTH and "/" not in value:
        return VariantSpec(spec=spec, mode="", model_version=value)
    raise ValueError(
        f"{spec!r} is not a variant: use 'mode:<{'|'.join(Mode.values)}>' or 'model:<version>' "
        f"(a saved model version, at most {MAX_VERSION_LENGTH} characters, no '/')"
    )


def variant_specs() -> dict[str, VariantSpec]:
    return {
        "A": variant_spec_parse(settings.RECOMMENDATION_AB_VARIANT_A),
        "B": variant_spec_parse(settings.RECOMMENDATION_AB_VARIANT_B),
    }


# --- assignment ------------------------------------------------------------------------------


def bucket_of(*, experiment: str, user_id: int) -> int:
    """The subject's bucket in [0, 10,000): sha256, so the same in every process and release."""
    digest = hashlib.sha256(f"{experiment}:{user_id}".encode()).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def variant_for(*, experiment: str, user_id: int, split: float) -> str:
    # round(): 0.7 * 10_000 is 7000.000000000001 in floating point, which would admit bucket 7000.
    return "B" if bucket_of(experiment=experiment, user_id=user_id) < round(split * BUCKETS) else "A"


@dataclass(frozen=True)
class Assignment:
    """What a new request records: its variant ("" outside the test), mode and pinned version."""

    variant: str = ""
    mode: str = ""
    model_version: str = ""

    @property
    def cache_mode(self) -> str:
        """The `mode` part of the result cache key: distinct per variant, so variants never share answers."""
        if not self.variant:
            return self.mode
        return f"ab-{self.variant}-{self.mode or 'default'}-{self.model_version or 'active'}"


def _subject_user_id(*, kind: str, job, cleaner) -> int | None:
    Kind = RecommendationRequest.Kind
    if kind in (Kind.JOBS_FOR_CLEANER, Kind.BID_SUGGESTION):
        return cleaner.user_id if cleaner is not None else None
    return job.client.user_id if job is not None and job.client is not None else None


def experiment_assign(*, kind: str, job=None, cleaner=None, mode: str = "") -> Assignment:
    """The assignment of a new request.

    An explicit `mode` from the caller wins over the experiment: the request runs in that mode
    and records no variant (""), so it never counts towards either side's results.
    """
    if mode or not settings.RECOMMENDATION_AB_TEST_ENABLED:
        return experiment_assign_for_user(user_id=None, mode=mode)
    return experiment_assign_for_user(user_id=_subject_user_id(kind=kind, job=job, cleaner=cleaner), mode=mode)


def experiment_assign_for_user(*, user_id: int | None, mode: str = "") -> Assignment:
    """The assignment when the subject's user id is already known (no database needed)."""
    if mode:
        return Assignment(mode=mode)
    if not settings.RECOMMENDATION_AB_TEST_ENABLED or user_id is None:
        return Assignment()
    variant = variant_for(
        experiment=settings.RECOMMENDATION_AB_TEST_NAME, user_id=user_id, split=settings.RECOMMENDATION_AB_TEST_SPLIT
    )
    spec = variant_specs()[variant]
    if spec.model_version:
        # Explicit, so the worker scores with the pinned model even while no version is active.
        return Assignment(variant=variant, mode=settings.RECOMMENDATION_MODE, model_version=spec.model_version)
    return Assignment(variant=variant, mode=spec.mode)


# --- the z-test ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZTest:
    successes_a: int
    trials_a: int
    successes_b: int
    trials_b: int
    rate_a: float | None
    rate_b: float | None
    z: float | None
    p_value: float | None
    absolute_lift: float | None  # rate_b - rate_a
    absolute_lift_ci: tuple[float, float] | None
    relative_lift: float | None  # rate_b / rate_a - 1
    relative_lift_ci: tuple[float, float] | None
    significant: bool
    verdict: str


def _p_text(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def two_proportion_z_test(
    *, successes_a: int, trials_a: int, successes_b: int, trials_b: int, min_trials: int = MIN_TRIALS_PER_VARIANT
) -> ZTest:
    """Is B's rate different from A's? Two-sided pooled z-test at 5%, with 95% intervals.

    z = (p_B - p_A) / sqrt(p(1-p)(1/n_A + 1/n_B)), p the pooled rate; p-value = erfc(|z|/√2).
    The absolute lift's interval uses the unpooled standard error (Wald); the relative lift's
    uses the log of the rate ratio (Katz), which stays sensible for small rates. With fewer
    than `min_trials` trials on either side the numbers are still given but the verdict is
    "not enough data": the normal approximation is poor there, and early peeks mislead.
    """
    for name, successes, trials in (("A", successes_a, trials_a), ("B", successes_b, trials_b)):
        if trials < 0 or not 0 <= successes <= trials:
            raise ValueError(f"variant {name}: need 0 <= successes <= trials, got {successes} of {trials}")
    rate_a = successes_a / trials_a if trials_a else None
    rate_b = successes_b / trials_b if trials_b else None
    z = p_value = lift = lift_ci = rel = rel_ci = None
    if rate_a is not None and rate_b is not None:
        lift = rate_b - rate_a
        pooled = (successes_a + successes_b) / (trials_a + trials_b)
        se = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
        # Both rates 0 or both 1: no variance, and no evidence of any difference.
        z = lift / se if se > 0 else 0.0
        p_value = math.erfc(abs(z) / math.sqrt(2))
        se_diff = math.sqrt(rate_a * (1 - rate_a) / trials_a + rate_b * (1 - rate_b) / trials_b)
        lift_ci = (lift - Z_95 * se_diff, lift + Z_95 * se_diff)
        if rate_a > 0:
            rel = rate_b / rate_a - 1
        if rate_a > 0 and rate_b > 0:
            se_log = math.sqrt((1 - rate_a) / successes_a + (1 - rate_b) / successes_b)
            log_ratio = math.log(rate_b / rate_a)
            rel_ci = (math.exp(log_ratio - Z_95 * se_log) - 1, math.exp(log_ratio + Z_95 * se_log) - 1)
    enough = min(trials_a, trials_b) >= min_trials
    significant = enough and p_value is not None and p_value < ALPHA
    if not enough:
        verdict = f"not enough data (need at least {min_trials} per variant)"
    elif significant:
        verdict = f"{'B' if lift > 0 else 'A'} is better ({_p_text(p_value)})"
    else:
        verdict = f"no significant difference yet ({_p_text(p_value)})"
    return ZTest(
        successes_a=successes_a,
        trials_a=trials_a,
        successes_b=successes_b,
        trials_b=trials_b,
        rate_a=rate_a,
        rate_b=rate_b,
        z=z,
        p_value=p_value,
        absolute_lift=lift,
        absolute_lift_ci=lift_ci,
        relative_lift=rel,
        relative_lift_ci=rel_ci,
        significant=significant,
        verdict=verdict,
    )


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A primary metric: successes among trials on one funnel. Both are row conditions, so a
    success is always also a trial (a z-test needs successes <= trials, which the funnel's raw
    flag sums do not guarantee: see stats.py)."""

    funnel: stats.Funnel
    trials: Q | None  # None: every row shown
    successes: Q
    description: str


METRICS: dict[str, Metric] = {
    "acceptance_rate": Metric(
        stats.JOB_FUNNEL,
        Q(was_bid_placed=True),
        Q(was_bid_placed=True, was_bid_accepted=True),
        "job recommendations accepted, of those the cleaner bid on",
    ),
    "bid_rate": Metric(
        stats.JOB_FUNNEL,
        Q(was_viewed=True),
        Q(was_viewed=True, was_bid_placed=True),
        "job recommendations bid on, of those the cleaner viewed",
    ),
    "job_view_rate": Metric(stats.JOB_FUNNEL, None, Q(was_viewed=True), "job recommendations viewed, of those shown"),
    "hire_rate": Metric(
        stats.CLEANER_FUNNEL,
        Q(was_viewed=True),
        Q(was_viewed=True, was_hired=True),
        "cleaner recommendations hired, of those the client viewed",
    ),
    "cleaner_view_rate": Metric(
        stats.CLEANER_FUNNEL, None, Q(was_viewed=True), "cleaner recommendations viewed, of those shown"
    ),
}
DEFAULT_METRIC = "acceptance_rate"


def _per_variant(funnel: stats.Funnel, *, since: datetime, until: datetime, metric: Metric | None) -> dict[str, dict]:
    rows = stats.rows_between(funnel, since=since, until=until).filter(variant__in=VARIANTS)
    extra = {}
    if metric is not None:
        extra = {
            "metric_trials": stats.count_where(metric.trials) if metric.trials is not None else Count("pk"),
            "metric_successes": stats.count_where(metric.successes),
        }
    found = {entry.pop("variant"): entry for entry in stats.funnel_by(funnel, rows, "variant", **extra)}
    empty = stats.funnel_overall(funnel, funnel.model.objects.none())
    if metric is not None:
        empty.update(metric_trials=0, metric_successes=0)
    return {v: found.get(v, dict(empty)) for v in VARIANTS}


def experiment_results(
    *, since: datetime, until: datetime, metric: str = DEFAULT_METRIC, min_trials: int = MIN_TRIALS_PER_VARIANT
) -> dict:
    """Each variant's requests and funnels in [since, until), and B against A on `metric`."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    chosen = METRICS[metric]
    requests = dict(
        RecommendationRequest.objects.filter(created_at__gte=since, created_at__lt=until, variant__in=VARIANTS)
        .values_list("variant")
        .annotate(n=Count("pk"))
        .order_by("variant")
    )
    funnels = {
        name: _per_variant(funnel, since=since, until=until, metric=chosen if chosen.funnel is funnel else None)
        for name, funnel in (
            ("job_recommendations", stats.JOB_FUNNEL),
            ("cleaner_recommendations", stats.CLEANER_FUNNEL),
        )
    }
    tested = funnels["job_recommendations" if chosen.funnel is stats.JOB_FUNNEL else "cleaner_recommendations"]
    counts = {v: (tested[v].pop("metric_successes"), tested[v].pop("metric_trials")) for v in VARIANTS}
    test = two_proportion_z_test(
        successes_a=counts["A"][0],
        trials_a=counts["A"][1],
        successes_b=counts["B"][0],
        trials_b=counts["B"][1],
        min_trials=min_trials,
    )
    try:
        specs = {v: s.spec for v, s in variant_specs().items()}
    except ValueError:  # reported by the system check; results of past rows are still readable
        specs = {"A": settings.RECOMMENDATION_AB_VARIANT_A, "B": settings.RECOMMENDATION_AB_VARIANT_B}
    return {
        "experiment": settings.RECOMMENDATION_AB_TEST_NAME,
        "enabled": settings.RECOMMENDATION_AB_TEST_ENABLED,
        "split": settings.RECOMMENDATION_AB_TEST_SPLIT,
        "since": since,
        "until": until,
        "variants": {
            v: {
                "spec": specs[v],
                "requests": requests.get(v, 0),
                "job_recommendations": funnels["job_recommendations"][v],
                "cleaner_recommendations": funnels["cleaner_recommendations"][v],
            }
            for v in VARIANTS
        },
        "test": {"metric": metric, "description": chosen.description, "min_trials": min_trials, **asdict(test)},
    }
