"""NaN in the marketplace's data never reaches JSON: the request fails with a reason, reads never 5xx."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from app.marketplace.models import CleaningJob
from app.recommendations.models import CleanerRecommendation, RecommendationRequest
from app.recommendations.results import result_get, result_publish
from app.recommendations.services import recommendation_request_create
from tests import factories as f
from workers.recommend.engine import RecommendationEngine
from workers.recommend.runner import NON_FINITE_ERROR, recommendation_request_run

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="only PostgreSQL's numeric stores NaN"),
]


def test_result_publish_refuses_nan_and_writes_nothing() -> None:
    request_id = str(uuid.uuid4())
    with pytest.raises(ValueError):
        result_publish(request_id, {"score": float("nan")})
    assert result_get(request_id) is None


def test_it_fails_a_request_whose_job_has_a_nan_budget_and_serves_it(monkeypatch) -> None:
    monkeypatch.setattr("app.recommendations.services._enqueue", lambda req: None)
    job = f.job()
    for _ in range(3):
        f.cleaner()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {CleaningJob._meta.db_table} SET budget = 'NaN' WHERE id = %s", [job.pk])
    user = job.client.user
    req = recommendation_request_create(user=user, kind=RecommendationRequest.Kind.CLEANERS_FOR_JOB, job=job, limit=5)

    status = recommendation_request_run(request_id=str(req.pk), engine=RecommendationEngine(mode="rule_based"))

    req.refresh_from_db()
    assert status == req.status == RecommendationRequest.Status.FAILED
    assert req.error == NON_FINITE_ERROR and req.result is None
    assert not CleanerRecommendation.objects.filter(request=req).exists()
    client = APIClient()
    client.force_authenticate(user)
    for url in (f"/api/v1/recommendation-requests/{req.pk}/", f"/api/v1/recommendation-requests/{req.pk}/?wait=1"):
        resp = client.get(url)
        assert resp.status_code == 200, resp.content
        body = json.loads(resp.content)
        assert body["status"] == "failed" and "NaN" in body["error"]
