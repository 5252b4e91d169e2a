"""The thin path end to end: POST, a real worker computes, GET returns ranked cleaners."""

import time

import pytest

from app.recommendations.models import CleanerRecommendation, RecommendationRequest
from tests import factories as f

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _poll(api_client, url: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api_client.get(url).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"request not finished in {timeout}s: {body}")


def test_it_ranks_cleaners_for_a_job_through_the_worker(celery_worker, api_client) -> None:
    job = f.job()
    near_specialist = f.cleaner(specialties_mask=1, home_lat=job.property.lat, home_lng=job.property.lng)
    far = f.cleaner(home_lat=job.property.lat + 0.12, service_radius_km=20)
    f.cleaner(services_mask=0b10, specialties_mask=0b10)  # does not offer "standard": not a candidate
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(job.client.user)}")

    resp = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 5}, format="json")

    assert resp.status_code == 202, resp.content
    assert resp["Location"] == resp.json()["status_url"]
    body = _poll(api_client, resp.json()["status_url"])
    assert body["status"] == "succeeded", body
    ranked = [c["cleaner_id"] for c in body["result"]["cleaners"]]
    assert ranked == [near_specialist.pk, far.pk]
    first = body["result"]["cleaners"][0]
    assert set(first["components"]) >= {"quality", "distance", "specialty", "price_fit"}
    rows = CleanerRecommendation.objects.filter(request_id=body["id"]).order_by("rank")
    assert [(r.cleaner_id, r.rank, r.mode) for r in rows] == [(near_specialist.pk, 1, "rule_based"), (far.pk, 2, "rule_based")]


def test_it_hides_other_clients_jobs_and_requests(celery_worker, api_client) -> None:
    job = f.job()
    stranger = f.client()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(stranger.user)}")
    assert api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json").status_code == 404

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(job.client.user)}")
    url = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json").json()["status_url"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(stranger.user)}")
    resp = api_client.get(url)
    assert resp.status_code == 404
    assert resp["Content-Type"] == "application/problem+json"
    assert RecommendationRequest.objects.count() == 1


def test_it_requires_a_token(api_client) -> None:
    resp = api_client.post("/api/v1/jobs/1/recommendations/", {}, format="json")
    assert resp.status_code == 401
    assert resp.json()["status"] == 401
