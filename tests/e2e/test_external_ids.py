"""Through the real worker: an integration key asks by external id, and every answer and webhook names
each subject by its external id beside our id."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.factories.integrations import as_key, integration_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _answer(api_client, resp) -> dict:
    assert resp.status_code == 202, resp.content
    body = api_client.get(resp.json()["status_url"] + "?wait=20").json()
    assert body["status"] == "succeeded", body
    return body["result"]


@pytest.fixture
def market():
    job = f.job(external_id="job-e2e-1")
    cleaners = [
        f.cleaner(external_id=f"cleaner-e2e-{i}", home_lat=job.property.lat, home_lng=job.property.lng)
        for i in range(3)
    ]
    return job, cleaners


def test_a_key_gets_cleaners_for_a_job_named_by_its_external_id(celery_worker, api_client, market) -> None:
    job, cleaners = market
    _, secret = integration_key()

    resp = as_key(api_client, secret).post(
        f"/api/v1/jobs/by-external-id/{job.external_id}/recommendations/", {"limit": 5}, format="json"
    )

    result = _answer(api_client, resp)
    assert (result["job_id"], result["job_external_id"]) == (job.pk, "job-e2e-1")
    external = {c.pk: c.external_id for c in cleaners}
    assert len(result["cleaners"]) == 3
    assert all(c["cleaner_external_id"] == external[c["cleaner_id"]] for c in result["cleaners"])
    assert list(result["cleaners"][0])[:3] == ["cleaner_id", "cleaner_external_id", "rank"]


def test_jobs_for_a_cleaner_name_each_job(celery_worker, api_client, market) -> None:
    job, cleaners = market
    _, secret = integration_key()

    resp = as_key(api_client, secret).post(
        f"/api/v1/cleaners/by-external-id/{cleaners[0].external_id}/recommendations/", {}, format="json"
    )

    result = _answer(api_client, resp)
    assert (result["cleaner_id"], result["cleaner_external_id"]) == (cleaners[0].pk, "cleaner-e2e-0")
    assert [(j["job_id"], j["job_external_id"]) for j in result["jobs"]] == [(job.pk, "job-e2e-1")]


def test_a_bid_suggestion_names_both(celery_worker, api_client, market) -> None:
    job, cleaners = market
    _, secret = integration_key()

    resp = as_key(api_client, secret).post(
        f"/api/v1/jobs/by-external-id/{job.external_id}/bid-suggestions/",
        {"cleaner_external_id": cleaners[1].external_id},
        format="json",
    )

    result = _answer(api_client, resp)
    assert {k: result[k] for k in ("job_id", "job_external_id", "cleaner_id", "cleaner_external_id")} == {
        "job_id": job.pk,
        "job_external_id": "job-e2e-1",
        "cleaner_id": cleaners[1].pk,
        "cleaner_external_id": "cleaner-e2e-1",
    }
    assert result["low"] <= result["suggested_amount"] <= result["high"]


def test_a_clients_numeric_question_is_answered_with_external_ids_too(celery_worker, api_client, market) -> None:
    job, _ = market
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(job.client.user)}")

    result = _answer(api_client, api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json"))

    assert result["job_external_id"] == "job-e2e-1"
    assert {c["cleaner_external_id"] for c in result["cleaners"]} == {"cleaner-e2e-0", "cleaner-e2e-1", "cleaner-e2e-2"}


def test_the_webhook_carries_the_external_ids(celery_worker, api_client, allow_local, make_receiver, market) -> None:
    job, _ = market
    _, secret = integration_key()
    as_key(api_client, secret)
    receiver = make_receiver(200, secret=api_client.get("/api/v1/webhook-callback-secret/").json()["secret"])

    resp = api_client.post(
        f"/api/v1/jobs/by-external-id/{job.external_id}/recommendations/",
        {"callback_url": receiver.url},
        format="json",
    )

    assert resp.status_code == 202, resp.content
    [got] = receiver.wait_for(1)
    assert got.verify_error == ""
    result = got.verified["data"]["result"]
    assert result["job_external_id"] == "job-e2e-1"
    assert {c["cleaner_external_id"] for c in result["cleaners"]} == {"cleaner-e2e-0", "cleaner-e2e-1", "cleaner-e2e-2"}
    assert got.verified["data"] == api_client.get(resp.json()["status_url"]).json()
