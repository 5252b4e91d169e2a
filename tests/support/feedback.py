"""Builders and waits shared by the feedback tests."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.models import CleanerRecommendation, JobRecommendation, Mode
from tests import factories as f

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


def post(api_client, user, events: list[dict]):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(user)}")
    return api_client.post(URL, {"events": events}, format="json")


def wait_until(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")
