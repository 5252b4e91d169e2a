"""Thin views: validate, check who may see what, call one service, answer.

Ids that are not the caller's answer 404, exactly like ids that do not exist, so the API does
not reveal what other accounts hold. Every question names its subject by our id
(`jobs/{job_id}/...`) or by the marketplace's own (`jobs/by-external-id/{external_id}/...`);
both forms follow the same rules and ask the same question (the same cached answer, the same
request), since the external id is resolved to the row first.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from app.accounts.models import User
from app.api.errors import ServiceUnavailable
from app.api.parsers import StrictJSONParser
from app.api.schema import COMMON, problems
from app.api.throttling import RedisUserRateThrottle
from app.common.tasks import QueueUnavailable
from app.marketplace.models import EXTERNAL_ID_PATTERN, CleanerProfile, CleaningJob
from app.observability.metrics import cache_lookup_record
from app.recommendations import services
from app.recommendations.api import serializers as s
from app.recommendations.api.fast import cache_lookup_once, cached_response
from app.recommendations.api.subjects import asks_for_anyone as _asks_for_anyone
from app.recommendations.api.subjects import visible_cleaner as _visible_cleaner
from app.recommendations.api.subjects import visible_job as _visible_job
from app.recommendations.cache import owner_remember, owner_subject
from app.recommendations.experiments import experiment_assign
from app.recommendations.models import RecommendationRequest
from app.recommendations.questions import may_ask_about_own, own_question
from app.recommendations.results import request_payload, result_get, result_wait

Kind = RecommendationRequest.Kind


def _create(**kwargs) -> RecommendationRequest:
    try:
        return services.recommendation_request_create(**kwargs)
    except QueueUnavailable:
        raise ServiceUnavailable(
            "The task queue is unavailable; the request was not accepted. Retry shortly."
        ) from None


def _ask_about_own(
    request: Request,
    *,
    kind: str,
    load,
    job_id: int | None = None,
    cleaner_id: int | None = None,
    limit: int = 1,
    mode: str = "",
    callback_url: str = "",
) -> Response:
    """A client's question about its job, or a cleaner's about itself: one Redis round trip first.

    That round trip (`cache_lookup`) reads the cached answer under this user's id, which exists
    only if this user was allowed to ask when it was computed (and a change to the job, its
    bids or the cleaner invalidates it), and the subject's recorded owner. A hit is answered
    with no database query; on a miss the ownership query is skipped when the record says this
    user owns the subject (any change to the subject's ownership voids the record; cache.py).
    `load` is that query: the subject, or 404.
    Operators and integration keys ask on others' behalf (the A/B subject is someone else), and
    a caller who asked for a callback gets one rather than a cached answer: both take the full path.
    """
    user = request.user
    subject_field = "cleaner" if kind == Kind.JOBS_FOR_CLEANER else "job"
    if callback_url or _asks_for_anyone(user):
        return _request_or_cached(
            request, kind=kind, **{subject_field: load()}, limit=limit, mode=mode, callback_url=callback_url
        )
    if not may_ask_about_own(kind=kind, role=user.role):
        raise Http404  # whatever was recorded before
    question, assignment = own_question(
        kind=kind, user_id=user.pk, job_id=job_id, cleaner_id=cleaner_id, limit=limit, mode=mode
    )
    # Asked already, unless the fast path (fast.py) declined this request before its cache lookup.
    found = cache_lookup_once(request._request, **question)
    cache_lookup_record(hit=found.answer is not None)
    if found.answer is not None:
        return cached_response(found.answer)
    if found.owner != user.pk:
        load()
        if found.token:
            owner_remember(owner_subject(kind=kind, job_id=job_id, cleaner_id=cleaner_id), user.pk, found.owner_gen)
    try:
        req = _create(
            user=user,
            kind=kind,
            job_id=job_id,
            cleaner_id=cleaner_id,
            limit=limit,
            mode=mode,
            cache_key=found.token,
            assignment=assignment,
        )
    except IntegrityError:
        # Deleted since its owner was recorded, by a write that sent no signal (raw SQL).
        raise Http404 from None
    return _accepted(request, req)


def _request_or_cached(
    request: Request, *, kind: str, job=None, cleaner=None, limit: int = 1, mode: str = "", callback_url: str = ""
) -> Response:
    """200 with a fresh cached answer to the same question, else 202 and a new request."""
    # The A/B variant decides the mode (unless the caller chose one), so it is part of the question.
    assignment = experiment_assign(kind=kind, job=job, cleaner=cleaner, mode=mode)
    found = cache_lookup_once(  # asked already, unless the fast path (fast.py) declined before its lookup
        request._request,
        kind=kind,
        user_id=request.user.pk,
        job_id=job.pk if job else None,
        cleaner_id=cleaner.pk if cleaner else None,
        limit=limit,
        mode=assignment.cache_mode,
    )
    # A caller who asked for a callback gets one: no shortcut through the cache.
    if not callback_url:
        cache_lookup_record(hit=found.answer is not None)
        if found.answer is not None:
            return cached_response(found.answer)
    req = _create(
        user=request.user,
        kind=kind,
        job=job,
        cleaner=cleaner,
        limit=limit,
        mode=mode,
        callback_url=callback_url,
        cache_key=found.token,
        assignment=assignment,
    )
    return _accepted(request, req)


def _accepted(request: Request, req: RecommendationRequest) -> Response:
    url = request.build_absolute_uri(reverse("recommendation-request-detail", args=[req.id]))
    # The shape of `s.RequestAccepted`, built directly: this is every request's hot path.
    body = {"id": str(req.id), "status": req.status, "status_url": url}
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


_ASYNC_RESPONSES = {
    202: OpenApiResponse(s.RequestAccepted, description="Accepted: poll `status_url` (also in `Location`)."),
    200: OpenApiResponse(s.CachedAnswer, description="A fresh cached answer to the same question."),
    **problems(400, 404, 503, *COMMON),
}


_BY_EXTERNAL_ID = OpenApiParameter(
    "external_id",
    str,
    OpenApiParameter.PATH,
    description="The marketplace's own id of the subject (`external_id`), as the marketplace sent it.",
    pattern=f"^{EXTERNAL_ID_PATTERN}$",
)


class JobRecommendationsView(APIView):
    """Ask for the best cleaners for one of your jobs."""

    @extend_schema(
        request=s.RecommendationInput, responses={**_ASYNC_RESPONSES, **problems(409)}, tags=["recommendations"]
    )
    def post(self, request: Request, job_id: int) -> Response:
        data = s.RecommendationInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _ask_about_own(
            request,
            kind=Kind.CLEANERS_FOR_JOB,
            job_id=job_id,
            load=lambda: _visible_job(request.user, pk=job_id),
            **data.validated_data,
        )


class JobByExternalIdRecommendationsView(APIView):
    """Ask for the best cleaners for a job named by its external id (yours; any, for operators and keys)."""

    @extend_schema(
        request=s.RecommendationInput,
        responses=_ASYNC_RESPONSES,
        tags=["recommendations"],
        parameters=[_BY_EXTERNAL_ID],
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = s.RecommendationInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = _visible_job(request.user, external_id=external_id)
        return _ask_about_own(
            request, kind=Kind.CLEANERS_FOR_JOB, job_id=job.pk, load=lambda: job, **data.validated_data
        )


class CleanerRecommendationsView(APIView):
    """Ask for the best open jobs for a cleaner (yourself, unless you are an operator)."""

    @extend_schema(request=s.RecommendationInput, responses=_ASYNC_RESPONSES, tags=["recommendations"])
    def post(self, request: Request, cleaner_id: int) -> Response:
        data = s.RecommendationInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _ask_about_own(
            request,
            kind=Kind.JOBS_FOR_CLEANER,
            cleaner_id=cleaner_id,
            load=lambda: _visible_cleaner(request.user, pk=cleaner_id),
            **data.validated_data,
        )


class CleanerByExternalIdRecommendationsView(APIView):
    """Ask for the best open jobs for a cleaner named by its external id (yourself; any, for operators and keys)."""

    @extend_schema(
        request=s.RecommendationInput,
        responses=_ASYNC_RESPONSES,
        tags=["recommendations"],
        parameters=[_BY_EXTERNAL_ID],
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = s.RecommendationInput(data=request.data)
        data.is_valid(raise_exception=True)
        cleaner = _visible_cleaner(request.user, external_id=external_id)
        return _ask_about_own(
            request, kind=Kind.JOBS_FOR_CLEANER, cleaner_id=cleaner.pk, load=lambda: cleaner, **data.validated_data
        )


def _suggest_bid(request: Request, **job_lookup: int | str) -> Response:
    """A bid suggestion for the job `job_lookup` names, for the caller or the cleaner the body names."""
    data = s.BidSuggestionInput(data=request.data)
    data.is_valid(raise_exception=True)
    user = request.user
    anyone = _asks_for_anyone(user)
    if not (anyone or user.role == User.Role.CLEANER):
        raise PermissionDenied("Only cleaners, operators and integration keys can ask for bid suggestions.")
    cleaner_id = data.validated_data.get("cleaner_id")
    cleaner_external_id = data.validated_data.get("cleaner_external_id")
    if cleaner_id is not None:
        cleaner = _visible_cleaner(user, pk=cleaner_id)
    elif cleaner_external_id is not None:
        cleaner = _visible_cleaner(user, external_id=cleaner_external_id)
    elif anyone:
        raise s.serializers.ValidationError(
            {"cleaner_id": ["This field (or cleaner_external_id) is required for operators and integration keys."]}
        )
    else:
        cleaner = CleanerProfile.objects.filter(user=user).first()
        if cleaner is None:
            raise Http404
    job = CleaningJob.objects.filter(**job_lookup).first()
    if job is None or (not anyone and job.status != CleaningJob.Status.OPEN_FOR_BIDS):
        raise Http404
    return _request_or_cached(
        request,
        kind=Kind.BID_SUGGESTION,
        job=job,
        cleaner=cleaner,
        callback_url=data.validated_data["callback_url"],
    )


class BidSuggestionsView(APIView):
    """Ask what a cleaner should bid on an open job."""

    @extend_schema(
        request=s.BidSuggestionInput, responses={**_ASYNC_RESPONSES, **problems(403)}, tags=["recommendations"]
    )
    def post(self, request: Request, job_id: int) -> Response:
        return _suggest_bid(request, pk=job_id)


class JobByExternalIdBidSuggestionsView(APIView):
    """Ask what a cleaner should bid on an open job named by its external id."""

    @extend_schema(
        request=s.BidSuggestionInput,
        responses={**_ASYNC_RESPONSES, **problems(403)},
        tags=["recommendations"],
        parameters=[_BY_EXTERNAL_ID],
    )
    def post(self, request: Request, external_id: str) -> Response:
        return _suggest_bid(request, external_id=external_id)


class RecommendationRequestView(APIView):
    """The state of a request and, once done, its result. `?wait=N` long-polls up to N seconds."""

    @extend_schema(
        parameters=[OpenApiParameter("wait", float, description="Hold the answer up to N seconds (0-30) until done.")],
        responses={200: s.RequestState, **problems(400, 404, *COMMON)},
        tags=["recommendations"],
    )
    def get(self, request: Request, request_id) -> Response:
        query = s.WaitQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        qs = RecommendationRequest.objects.all()
        if not request.user.is_operator:
            qs = qs.filter(requested_by=request.user)
        # Ownership from the table, not the result backend: an unknown id must be a 404,
        # never Celery's everlasting PENDING.
        if not qs.filter(pk=request_id).exists():
            raise Http404
        wait = query.validated_data["wait"]
        payload = result_wait(str(request_id), wait) if wait > 0 else result_get(str(request_id))
        if payload is None:
            payload = request_payload(qs.get(pk=request_id))
        return Response(payload)


class TokenOutput(s.serializers.Serializer):
    token = s.serializers.CharField()


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for the account's API token."""

    # DRF's view has no throttle; password guessing must meet the anonymous rate.
    throttle_classes = [RedisUserRateThrottle]
    # DRF's view names its parsers, the stock JSONParser among them: ours instead (app/api/parsers.py).
    parser_classes = (FormParser, MultiPartParser, StrictJSONParser)
    serializer_class = s.TokenInput

    @extend_schema(request=s.TokenInput, responses={200: TokenOutput, **problems(400, 429)}, tags=["auth"], auth=[])
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)
