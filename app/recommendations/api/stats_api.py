"""Operators' monitoring views: recommendation funnel rates, and the A/B test's results.

Both read only (selectors in stats.py and experiments.py) and are for operators: other roles get
403, a request without a token 401.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.api.fields import QueryIntegerField, StrictQuery
from app.api.permissions import operator_only
from app.api.schema import COMMON, problems
from app.recommendations import stats
from app.recommendations.experiments import DEFAULT_METRIC, METRICS, MIN_TRIALS_PER_VARIANT, experiment_results

IsOperator = operator_only("Only operators can read recommendation statistics and experiment results.")


# --- input -----------------------------------------------------------------------------------


class StatsQuery(StrictQuery):
    days = QueryIntegerField(min_value=1, max_value=365, default=30, help_text="The last N days (1-365).")


class ExperimentQuery(StrictQuery):
    days = QueryIntegerField(
        min_value=1, max_value=365, default=30, help_text="The last N days (1-365); ignored when `since` is given."
    )
    since = serializers.DateTimeField(
        required=False, help_text="Start of the window (ISO 8601); e.g. the experiment's start."
    )
    until = serializers.DateTimeField(required=False, help_text="End of the window, exclusive; default now.")
    metric = serializers.ChoiceField(
        choices=list(METRICS), default=DEFAULT_METRIC, help_text="The primary metric B is tested against A on."
    )
    min_trials = QueryIntegerField(
        min_value=1,
        max_value=10_000_000,
        default=MIN_TRIALS_PER_VARIANT,
        help_text="Trials per variant below which the verdict is 'not enough data'.",
    )

    def validate(self, attrs: dict) -> dict:
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - timedelta(days=attrs["days"])
        if since >= until:
            raise serializers.ValidationError({"since": ["Must be before `until`."]})
        return {**attrs, "since": since, "until": until}


# --- output (for the schema; the views return the selectors' dicts) ---------------------------


class JobCounts(serializers.Serializer):
    total = serializers.IntegerField(help_text="Job recommendations shown to cleaners.")
    viewed = serializers.IntegerField()
    bid_placed = serializers.IntegerField()
    accepted = serializers.IntegerField()
    view_rate = serializers.FloatField(allow_null=True, help_text="viewed / total; null when total is 0.")
    bid_rate = serializers.FloatField(allow_null=True, help_text="bid_placed / viewed; null when viewed is 0.")
    acceptance_rate = serializers.FloatField(allow_null=True, help_text="accepted / bid_placed; null when 0 bids.")


class CleanerCounts(serializers.Serializer):
    total = serializers.IntegerField(help_text="Cleaner recommendations shown to clients.")
    viewed = serializers.IntegerField()
    hired = serializers.IntegerField()
    view_rate = serializers.FloatField(allow_null=True, help_text="viewed / total; null when total is 0.")
    hire_rate = serializers.FloatField(allow_null=True, help_text="hired / viewed; null when viewed is 0.")


def _variant() -> serializers.Field:
    return serializers.CharField(allow_null=True, help_text="A or B; null: served outside any experiment.")


def _version() -> serializers.Field:
    return serializers.CharField(allow_null=True, help_text="The model version used; null: rule-based.")


def _day() -> serializers.Field:
    return serializers.DateField(help_text="UTC day of creation.")


class JobByVariant(JobCounts):
    variant = _variant()


class JobByVersion(JobCounts):
    model_version = _version()


class JobByDay(JobCounts):
    day = _day()


class CleanerByVariant(CleanerCounts):
    variant = _variant()


class CleanerByVersion(CleanerCounts):
    model_version = _version()


class CleanerByDay(CleanerCounts):
    day = _day()


class JobBreakdowns(serializers.Serializer):
    overall = JobCounts()
    by_variant = JobByVariant(many=True)
    by_model_version = JobByVersion(many=True)
    by_day = JobByDay(many=True)


class CleanerBreakdowns(serializers.Serializer):
    overall = CleanerCounts()
    by_variant = CleanerByVariant(many=True)
    by_model_version = CleanerByVersion(many=True)
    by_day = CleanerByDay(many=True)


class StatsOutput(serializers.Serializer):
    days = serializers.IntegerField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    job_recommendations = JobBreakdowns()
    cleaner_recommendations = CleanerBreakdowns()


class VariantResult(serializers.Serializer):
    spec = serializers.CharField(help_text="The variant's current setting, e.g. `mode:neural`.")
    requests = serializers.IntegerField(help_text="Requests computed for this variant (cache hits not counted).")
    job_recommendations = JobCounts()
    cleaner_recommendations = CleanerCounts()


class Variants(serializers.Serializer):
    A = VariantResult()
    B = VariantResult()


def _interval() -> serializers.Field:
    return serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True, help_text="95% interval."
    )


class ZTestOutput(serializers.Serializer):
    metric = serializers.ChoiceField(choices=list(METRICS))
    description = serializers.CharField()
    min_trials = serializers.IntegerField()
    successes_a = serializers.IntegerField()
    trials_a = serializers.IntegerField()
    successes_b = serializers.IntegerField()
    trials_b = serializers.IntegerField()
    rate_a = serializers.FloatField(allow_null=True)
    rate_b = serializers.FloatField(allow_null=True)
    z = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True, help_text="Two-sided.")
    absolute_lift = serializers.FloatField(allow_null=True, help_text="rate_b - rate_a.")
    absolute_lift_ci = _interval()
    relative_lift = serializers.FloatField(allow_null=True, help_text="rate_b / rate_a - 1.")
    relative_lift_ci = _interval()
    significant = serializers.BooleanField(help_text="p < 0.05 with enough trials on both sides.")
    verdict = serializers.CharField(help_text="e.g. 'B is better (p=0.003)', 'no significant difference yet (p=0.41)'.")


class ExperimentOutput(serializers.Serializer):
    experiment = serializers.CharField()
    enabled = serializers.BooleanField()
    split = serializers.FloatField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    variants = Variants()
    test = ZTestOutput()


# --- views -----------------------------------------------------------------------------------


class RecommendationStatsView(APIView):
    """View, bid, acceptance and hire rates: overall, per A/B variant, per model version, per day."""

    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[StatsQuery], responses={200: StatsOutput, **problems(400, 403, *COMMON)}, tags=["monitoring"]
    )
    def get(self, request: Request) -> Response:
        query = StatsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = query.validated_data["days"]
        until = timezone.now()
        return Response({"days": days, **stats.recommendation_stats(since=until - timedelta(days=days), until=until)})


class ExperimentResultsView(APIView):
    """Each A/B variant's funnel, and a two-proportion z-test of B against A on the primary metric."""

    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[ExperimentQuery],
        responses={200: ExperimentOutput, **problems(400, 403, *COMMON)},
        tags=["monitoring"],
    )
    def get(self, request: Request) -> Response:
        query = ExperimentQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return Response(
            experiment_results(since=q["since"], until=q["until"], metric=q["metric"], min_trials=q["min_trials"])
        )
