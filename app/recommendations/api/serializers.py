"""Input and output shapes of the recommendation API."""

from django.conf import settings
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from app.api.fields import StrictInput, StrictIntegerField, StrictQuery
from app.marketplace.models import external_id_validator
from app.recommendations.models import Mode, RecommendationRequest
from app.webhooks.ssrf import validate_webhook_url


class RecommendationInput(StrictInput):
    limit = StrictIntegerField(min_value=1, max_value=settings.RECOMMENDATION_MAX_LIMIT, default=10)
    mode = serializers.ChoiceField(choices=Mode.choices, required=False, allow_blank=True, default="")
    callback_url = serializers.URLField(
        max_length=2048, required=False, allow_blank=True, default="", validators=[validate_webhook_url]
    )


class BidSuggestionInput(StrictInput):
    cleaner_id = StrictIntegerField(min_value=1, required=False)
    cleaner_external_id = serializers.CharField(
        max_length=64,
        required=False,
        validators=[external_id_validator],
        help_text="The cleaner by the marketplace's own id, instead of `cleaner_id`.",
    )
    callback_url = serializers.URLField(
        max_length=2048, required=False, allow_blank=True, default="", validators=[validate_webhook_url]
    )

    def validate(self, attrs: dict) -> dict:
        if "cleaner_id" in attrs and "cleaner_external_id" in attrs:
            raise serializers.ValidationError(
                {"cleaner_external_id": ["Give cleaner_id or cleaner_external_id, not both."]}
            )
        return attrs


class TokenInput(StrictInput, AuthTokenSerializer):
    """A username and a password (DRF's AuthTokenSerializer), and nothing else."""


class RequestAccepted(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RecommendationRequest.Status.choices)
    status_url = serializers.URLField()


class RequestState(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=RecommendationRequest.Kind.choices)
    status = serializers.ChoiceField(choices=RecommendationRequest.Status.choices)
    result = serializers.JSONField(
        allow_null=True,
        help_text=(
            "Once succeeded, by `kind`. `cleaners_for_job`: `job_id`, `job_external_id`, `mode`, `model_version`, "
            "`candidates` and `cleaners`, best first: `{cleaner_id, cleaner_external_id, rank, score, "
            "rule_based_score, neural_score, components}`. `jobs_for_cleaner`: `cleaner_id`, "
            "`cleaner_external_id`, ... and `jobs`: `{job_id, job_external_id, rank, score, ...}`. "
            "`bid_suggestion`: `job_id`, `job_external_id`, `cleaner_id`, `cleaner_external_id`, "
            "`suggested_amount`, `low`, `high`, `confidence`, `components`. Every `*_external_id` is the "
            "marketplace's own id of that row."
        ),
    )
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class WaitQuery(StrictQuery):
    wait = serializers.FloatField(min_value=0, max_value=30, required=False, default=0)


class CachedAnswer(RequestState):
    cached = serializers.BooleanField(help_text="Always true: this answer came from the cache.")
