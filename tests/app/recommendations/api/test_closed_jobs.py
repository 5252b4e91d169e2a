"""A job that is completed or cancelled gets no more recommendations: a 409 that says why."""

from __future__ import annotations

import pytest

from app.marketplace.models import CleaningJob
from app.recommendations import services
from app.recommendations.models import RecommendationRequest
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [CleaningJob.Status.COMPLETED, CleaningJob.Status.CANCELLED])
@pytest.mark.parametrize("asker", ["client", "operator"])
def test_it_refuses_a_closed_job_with_a_conflict(api_client, status: str, asker: str) -> None:
    job = f.job(status=status)
    authenticate(api_client, job.client.user if asker == "client" else f.operator())

    resp = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 3}, format="json")

    assert resp.status_code == 409, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    assert f"This job is {status}" in resp.json()["detail"]
    assert not RecommendationRequest.objects.filter(job=job).exists()


def test_a_job_closed_after_a_question_is_refused_on_the_next_one(api_client, monkeypatch) -> None:
    monkeypatch.setattr(services, "_enqueue", lambda req: None)
    job = f.job()
    authenticate(api_client, job.client.user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    assert api_client.post(url, {"limit": 3}, format="json").status_code == 202  # the owner is now recorded

    job.status = CleaningJob.Status.COMPLETED
    job.save()

    assert api_client.post(url, {"limit": 3}, format="json").status_code == 409
