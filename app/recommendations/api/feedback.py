"""`POST /api/v1/feedback/`: a batch of feedback events, stored now and applied by a worker.

A 202 is a promise: the events are committed before it is sent, and the worker (or, if the
task is lost, the sweeper) applies each one exactly once in effect. Validation is all or
nothing: one bad event answers 400 naming it (`events[3].event`) and stores nothing. If the
database cannot take the batch the answer is 503 with Retry-After, never a 202.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.api.fields import StrictInput, StrictIntegerField
from app.api.schema import COMMON, problems
from app.recommendations.feedback import (
    JOB_ONLY_EVENTS,
    MAX_BATCH,
    Event,
    RecommendationType,
    feedback_ingest,
    feedback_targets_resolve,
)

logger = logging.getLogger(__name__)

# Clients' clocks drift; an event from further in the future than this is a bug on their side.
MAX_CLOCK_SKEW = timedelta(minutes=5)
RATING_RANGE = (1, 10)


class AwareDateTimeField(serializers.DateTimeField):
    """A date-time that says its timezone: a naive one would be read in the server's zone, silently."""

    def to_internal_value(self, value: object) -> datetime:
        parsed = super().to_internal_value(value)
        if isinstance(value, str) and (naive := parse_datetime(value.strip())) is not None and naive.tzinfo is None:
            self.fail("naive")
        return parsed

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "naive": "Give the timezone, e.g. 2026-12-01T10:00:00Z or 2026-12-01T11:00:00+01:00.",
    }


class FeedbackEventInput(StrictInput):
    """One event about one recommendation.

    The recommendation is named by `recommendation_type` (always required) and either
    `recommendation_id`, or `job_id` + `cleaner_id`, not both:

    - `"cleaner"`: a `CleanerRecommendation`, a cleaner recommended to a client for a job;
    - `"job"`: a `JobRecommendation`, a job recommended to a cleaner.

    The two tables number their rows independently, so an id alone would be ambiguous. The
    pair form means the pair's latest recommendation of that type.

    A user may only report on recommendations made for them: a client on the cleaners
    recommended for their own jobs, a cleaner on the jobs recommended to them, an operator or an
    integration key (the marketplace's backend, reporting for its users) on any. Anything else answers 400 on that event's `recommendation_id` (or `job_id`), with the
    same message as an id that does not exist, so the API does not reveal other accounts'
    recommendations; 400 rather than 404 because the batch is one request and the error must
    say which event is wrong.

    `idempotency_key` is unique per user: an event whose key was already stored (earlier, or
    earlier in the same batch) is a duplicate, counted and not stored again, whatever its
    content. `value` is for `rated` only (1-10). `bid_placed` and `bid_accepted` are a
    cleaner's events and do not apply to a cleaner recommendation.
    """

    recommendation_type = serializers.ChoiceField(choices=RecommendationType.choices)
    # Within a 64-bit column (StrictIntegerField's default maximum): checked before any query.
    recommendation_id = StrictIntegerField(min_value=1, required=False)
    job_id = StrictIntegerField(min_value=1, required=False)
    cleaner_id = StrictIntegerField(min_value=1, required=False)
    event = serializers.ChoiceField(choices=Event.choices)
    value = serializers.FloatField(required=False, allow_null=True, default=None)
    # Keys are compared byte for byte: " a" and "a" are two keys.
    idempotency_key = serializers.CharField(max_length=128, trim_whitespace=False)
    occurred_at = AwareDateTimeField(
        help_text="ISO 8601 with a timezone; from when the recommendation was made to 5 minutes from now."
    )

    def validate_occurred_at(self, value: datetime) -> datetime:
        if value > timezone.now() + MAX_CLOCK_SKEW:
            raise serializers.ValidationError("Must not be more than 5 minutes in the future.")
        return value

    def validate(self, data: dict) -> dict:
        has_pair = "job_id" in data or "cleaner_id" in data
        if "recommendation_id" in data and has_pair:
            raise serializers.ValidationError(
                {"recommendation_id": "Give recommendation_id or job_id + cleaner_id, not both."}
            )
        if "recommendation_id" not in data:
            if not has_pair:
                raise serializers.ValidationError(
                    {"recommendation_id": "This field is required (or give job_id and cleaner_id)."}
                )
            for field, other in (("job_id", "cleaner_id"), ("cleaner_id", "job_id")):
                if field not in data:
                    raise serializers.ValidationError({field: f"This field is required with {other}."})
        if data["recommendation_type"] == RecommendationType.CLEANER and data["event"] in JOB_ONLY_EVENTS:
            raise serializers.ValidationError(
                {"event": f"'{data['event']}' is a cleaner's event: it does not apply to a cleaner recommendation."}
            )
        self._validate_value(data["event"], data["value"])
        return data

    @staticmethod
    def _validate_value(event: str, value: float | None) -> None:
        low, high = RATING_RANGE
        if event != Event.RATED:
            if value is not None:
                raise serializers.ValidationError({"value": "Only rated events carry a value."})
        elif value is None:
            raise serializers.ValidationError({"value": "This field is required for rated events."})
        elif not low <= value <= high:
            raise serializers.ValidationError({"value": f"A rating is from {low} to {high}."})


class FeedbackBatchInput(StrictInput):
    events = FeedbackEventInput(many=True, allow_empty=False, max_length=MAX_BATCH)

    def validate_events(self, events: list[dict]) -> list[dict]:
        """Resolve every reference in a few queries; reject the batch if any is not the caller's."""
        targets = feedback_targets_resolve(user=self.context["user"], refs=events)
        errors: list[dict] = []
        for event, target in zip(events, targets):
            if target is not None:
                made = target.created_at
                if made is not None and event["occurred_at"] < made - MAX_CLOCK_SKEW:
                    errors.append(
                        {"occurred_at": [f"Must not be before the recommendation was made ({made.isoformat()})."]}
                    )
                else:
                    errors.append({})
                continue
            field = "recommendation_id" if event.get("recommendation_id") else "job_id"
            noun = f"{event['recommendation_type']} recommendation"
            errors.append({field: [f"No such {noun}, or it was not made for you."]})
        if any(errors):
            raise serializers.ValidationError(errors)
        return [{**event, "target": target} for event, target in zip(events, targets)]


class FeedbackAccepted(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored now; each will be applied once.")
    duplicates = serializers.IntegerField(
        help_text="Events not stored: an idempotency key already stored, a second hire or bid on the same "
        "recommendation, or a second view of it within 24 hours."
    )


class FeedbackUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Feedback cannot be stored right now; nothing was stored. Send the batch again later."
    default_code = "unavailable"
    wait = 30  # seconds; DRF turns it into a Retry-After header


class FeedbackView(APIView):
    """Report what users did with their recommendations: up to 1000 events per request."""

    @extend_schema(
        request=FeedbackBatchInput,
        responses={202: FeedbackAccepted, **problems(400, 413, 503, *COMMON)},
        tags=["feedback"],
    )
    def post(self, request: Request) -> Response:
        data = FeedbackBatchInput(data=request.data, context={"user": request.user})
        try:
            data.is_valid(raise_exception=True)
            result = feedback_ingest(user=request.user, events=data.validated_data["events"])
        except DatabaseError:
            logger.exception("feedback batch of user %s not stored", request.user.pk)
            raise FeedbackUnavailable from None
        return Response(FeedbackAccepted(result).data, status=status.HTTP_202_ACCEPTED)
