"""The thin path end to end: POST, a real worker computes, GET returns ranked cleaners."""

import time

import pytest

from app.recommendations.models import CleanerRecommendation, RecommendationRequest
from tests import factories as f
from tests.e2e.polling import finished, rows_stored
from tests.support.auth import authenticate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_it_ranks_cleaners_for_a_job_through_the_worker(celery_worker, api_client) -> None:
    job = f.job()
    near_specialist = f.cleaner(specialties_mask=1, home_lat=job.property.lat, home_lng=job.property.lng)
    far = f.cleaner(home_lat=job.property.lat + 0.12, service_radius_km=20)
    f.cleaner(services_mask=0b10, specialties_mask=0b10)  # does not offer "standard": not a candidate
    authenticate(api_client, job.client.user)

    resp = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 5}, format="json")

    assert resp.status_code == 202, resp.content
    assert resp["Location"] == resp.json()["status_url"]
    body = finished(api_client, resp.json()["status_url"])
    assert body["status"] == "succeeded", body
    ranked = [c["cleaner_id"] for c in body["result"]["cleaners"]]
    assert ranked == [near_specialist.pk, far.pk]
    first = body["result"]["cleaners"][0]
    assert set(first["components"]) >= {"quality", "distance", "specialty", "price_fit"}
    rows_stored(body["id"])
    rows = CleanerRecommendation.objects.filter(request_id=body["id"]).order_by("rank")
    assert [(r.cleaner_id, r.rank, r.mode) for r in rows] == [
        (near_specialist.pk, 1, "rule_based"),
        (far.pk, 2, "rule_based"),
    ]


def test_it_hides_other_clients_jobs_and_requests(celery_worker, api_client) -> None:
    job = f.job()
    stranger = f.client()
    authenticate(api_client, stranger.user)
    assert api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json").status_code == 404

    authenticate(api_client, job.client.user)
    url = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json").json()["status_url"]
    authenticate(api_client, stranger.user)
    resp = api_client.get(url)
    assert resp.status_code == 404
    assert resp["Content-Type"] == "application/problem+json"
    assert RecommendationRequest.objects.count() == 1


def test_it_requires_a_token(api_client) -> None:
    resp = api_client.post("/api/v1/jobs/1/recommendations/", {}, format="json")
    assert resp.status_code == 401
    assert resp.json()["status"] == 401


def _wait_for_mode(api_client, url: str, body: dict, want: str, timeout: float = 20) -> dict:
    """POST until the worker answers in `want` mode (it checks for a new model every 2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = api_client.post(url, body, format="json")
        assert resp.status_code in (200, 202), resp.content
        # 200: a cached answer, possibly from before the worker swapped models.
        done = resp.json() if resp.status_code == 200 else finished(api_client, resp.json()["status_url"])
        assert done["status"] == "succeeded", done
        if done["result"].get("mode", want) == want or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


def test_it_serves_all_three_kinds_with_the_neural_model(celery_worker, api_client, models_dir, clean_pointers) -> None:
    # clean_pointers: afterwards the worker has dropped the model, so the next test starts rule-based
    # and no generation bump lands in the middle of it.
    from app.marketplace.models import Bid, CleaningJob
    from app.recommendations.cleaner_scores import cleaner_scores_refresh
    from app.recommendations.models import BidSuggestion, JobRecommendation
    from app.synthetic.generator import training_data_generate
    from workers.training.train import model_train

    training_data_generate(jobs=600, cleaners=40, clients=80, seed=3)
    cleaner_scores_refresh()
    model_train(version="e2e-1", models_dir=models_dir, seed=3)
    job = CleaningJob.objects.filter(status="open_for_bids").order_by("pk").first()
    bid = Bid.objects.filter(job=job).first()
    cleaner = bid.cleaner

    authenticate(api_client, job.client.user)
    done = _wait_for_mode(api_client, f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 5}, "ensemble")
    assert done["result"]["mode"] == "ensemble" and done["result"]["model_version"] == "e2e-1"
    assert all(c["neural_score"] is not None for c in done["result"]["cleaners"])
    rows_stored(done["id"])
    rows = CleanerRecommendation.objects.filter(request_id=done["id"])
    assert {r.model_version for r in rows} == {"e2e-1"}

    authenticate(api_client, cleaner.user)
    done = _wait_for_mode(api_client, f"/api/v1/cleaners/{cleaner.pk}/recommendations/", {"mode": "neural"}, "neural")
    assert done["result"]["mode"] == "neural"
    rows_stored(done["id"])
    assert JobRecommendation.objects.filter(request_id=done["id"]).count() == len(done["result"]["jobs"])

    resp = api_client.post(f"/api/v1/jobs/{job.pk}/bid-suggestions/", {}, format="json")
    assert resp.status_code == 202, resp.content
    done = finished(api_client, resp.json()["status_url"])
    assert done["status"] == "succeeded", done
    s = done["result"]
    assert s["low"] <= s["suggested_amount"] <= s["high"] and 0 < s["confidence"] <= 1
    rows_stored(done["id"])
    assert BidSuggestion.objects.get(request_id=done["id"]).cleaner_id == cleaner.pk
