"""The worker's claim: one conditional UPDATE that also loads what computing the request needs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from app.recommendations.models import RecommendationRequest
from app.webhooks.models import WebhookEndpoint
from tests import factories as f
from workers.recommend import runner

pytestmark = pytest.mark.django_db
Kind = RecommendationRequest.Kind


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_it_loads_the_request_its_job_and_property_as_the_orm_would() -> None:
    job = f.job()
    req = RecommendationRequest.objects.create(
        kind=Kind.CLEANERS_FOR_JOB, requested_by=job.client.user, job=job, result={"kept": [1, 2]}
    )

    with CaptureQueriesContext(connection) as queries:
        claimed = runner._claim_and_load(str(req.pk))

    expected = RecommendationRequest.objects.select_related("job__property", "cleaner").get(pk=req.pk)
    assert _fields(claimed) == _fields(expected)  # converted alike: uuid, JSON, aware datetimes
    assert claimed.status == "running" and claimed.attempts == 1
    with CaptureQueriesContext(connection) as more:
        assert _fields(claimed.job) == _fields(expected.job)
        assert _fields(claimed.job.property) == _fields(expected.job.property)
        assert claimed.cleaner is None
    assert more.captured_queries == [], "the job and its property came with the claim"
    if connection.vendor == "postgresql":
        assert len(queries.captured_queries) == 1
        assert claimed.has_webhook_endpoints is False


def test_it_loads_a_bid_suggestions_cleaner_and_sees_the_requesters_endpoints() -> None:
    job, cleaner = f.job(), f.cleaner()
    WebhookEndpoint.objects.create(owner=cleaner.user, url="https://example.com/hook")
    req = RecommendationRequest.objects.create(
        kind=Kind.BID_SUGGESTION, requested_by=cleaner.user, job=job, cleaner=cleaner
    )

    claimed = runner._claim_and_load(str(req.pk))

    assert _fields(claimed.cleaner) == _fields(RecommendationRequest.objects.get(pk=req.pk).cleaner)
    if connection.vendor == "postgresql":
        assert claimed.has_webhook_endpoints is True


def test_it_claims_a_request_once_and_fails_it_when_out_of_attempts() -> None:
    job = f.job()
    req = RecommendationRequest.objects.create(kind=Kind.CLEANERS_FOR_JOB, requested_by=job.client.user, job=job)
    RecommendationRequest.objects.filter(pk=req.pk).update(status="succeeded")
    assert runner._claim_and_load(str(req.pk)) is None  # done: a redelivery claims nothing
    assert RecommendationRequest.objects.get(pk=req.pk).status == "succeeded"

    RecommendationRequest.objects.filter(pk=req.pk).update(
        status="running", attempts=runner.MAX_ATTEMPTS, started_at=timezone.now() - timedelta(minutes=5)
    )
    assert runner._claim_and_load(str(req.pk)) is None
    failed = RecommendationRequest.objects.get(pk=req.pk)
    assert failed.status == "failed" and "stopped" in failed.error


def test_it_claims_nothing_for_an_unknown_id() -> None:
    assert runner._claim_and_load("00000000-0000-0000-0000-000000000000") is None


def test_a_run_that_a_later_claim_superseded_announces_nothing(monkeypatch) -> None:
    """Only the run that stores its results tells anyone: no result published, no webhook."""
    from app.recommendations.results import result_get
    from app.webhooks.models import WebhookDelivery
    from workers.recommend.engine import RecommendationEngine

    job = f.job()
    for _ in range(3):
        f.cleaner()
    WebhookEndpoint.objects.create(owner=job.client.user, url="https://example.com/hook")
    req = RecommendationRequest.objects.create(kind=Kind.CLEANERS_FOR_JOB, requested_by=job.client.user, job=job)
    engine = RecommendationEngine(mode="rule_based")
    score = engine.score_cleaners_for_job

    def claimed_again_meanwhile(*args, **kwargs):
        # A duplicate message (a sweep of a request that waited in a backlog) claims it now.
        assert runner._claim_update(str(req.pk), timezone.now()) == 1
        return score(*args, **kwargs)

    monkeypatch.setattr(engine, "score_cleaners_for_job", claimed_again_meanwhile)

    status = runner.recommendation_request_run(request_id=str(req.pk), engine=engine)

    req.refresh_from_db()
    assert (req.status, req.attempts) == ("running", 2), "the later claim's run finishes it"
    assert not WebhookDelivery.objects.filter(request=req).exists(), "a webhook for results nobody stored"
    assert result_get(str(req.pk)) is None
    assert status == "superseded"


def test_a_duplicate_message_at_the_attempt_cap_leaves_the_live_run_alone(monkeypatch) -> None:
    """The last attempt is computing when another message for it arrives: that run still finishes it."""
    from workers.recommend.engine import RecommendationEngine

    job = f.job()
    for _ in range(3):
        f.cleaner()
    req = RecommendationRequest.objects.create(kind=Kind.CLEANERS_FOR_JOB, requested_by=job.client.user, job=job)
    RecommendationRequest.objects.filter(pk=req.pk).update(attempts=runner.MAX_ATTEMPTS - 1)
    engine = RecommendationEngine(mode="rule_based")
    score = engine.score_cleaners_for_job
    duplicate = []

    def duplicate_arrives_meanwhile(*args, **kwargs):
        duplicate.append(runner.recommendation_request_run(request_id=str(req.pk), engine=engine))
        return score(*args, **kwargs)

    monkeypatch.setattr(engine, "score_cleaners_for_job", duplicate_arrives_meanwhile)

    status = runner.recommendation_request_run(request_id=str(req.pk), engine=engine)

    req.refresh_from_db()
    assert (status, req.status, req.error) == ("succeeded", "succeeded", ""), duplicate
    assert req.attempts == runner.MAX_ATTEMPTS
