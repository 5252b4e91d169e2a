"""Recommendation rows, feedback events and posting them: for the feedback tests of both sides."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.test import APIClient

from app.accounts.models import User
from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.models import CleanerRecommendation, JobRecommendation, Mode
from tests import factories as f
from tests.support.auth import authenticate

URL = "/api/v1/feedback/"
_rank = itertools.count(1)


def cleaner_recommendation(
    job: CleaningJob | None = None, cleaner: CleanerProfile | None = None
) -> CleanerRecommendation:
    """A cleaner recommended for a client's job (the client is `job.client`)."""
    return CleanerRecommendation.objects.create(
        job=job or f.job(), cleaner=cleaner or f.cleaner(), score=0.5, rank=next(_rank), mode=Mode.RULE_BASED
    )


def job_recommendation(cleaner: CleanerProfile | None = None, job: CleaningJob | None = None) -> JobRecommendation:
    """A job recommended to a cleaner (the cleaner's user may report on it)."""
    return JobRecommendation.objects.create(
        cleaner=cleaner or f.cleaner(), job=job or f.job(), score=0.5, rank=next(_rank), mode=Mode.RULE_BASED
    )


def event(
    rec: CleanerRecommendation | JobRecommendation,
    name: str = "viewed",
    *,
    key: str | None = None,
    occurred_at: datetime | None = None,
    **extra,
) -> dict:
    return {
        "recommendation_type": "job" if isinstance(rec, JobRecommendation) else "cleaner",
        "recommendation_id": rec.pk,
        "event": name,
        "idempotency_key": key or uuid.uuid4().hex,
        "occurred_at": (occurred_at or timezone.now()).isoformat(),
        **extra,
    }


def post(api_client: APIClient, user: User, events: list[dict]) -> HttpResponse:
    """POST a batch of events to the feedback API as `user`."""
    return authenticate(api_client, user).post(URL, {"events": events}, format="json")
