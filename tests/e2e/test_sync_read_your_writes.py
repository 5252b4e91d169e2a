"""Read your writes through the real worker: what the sync API wrote is used by the very next question."""

from __future__ import annotations

import pytest

from tests.factories.integrations import as_key, integration_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

CLEANER = {"home_lat": 40.72, "home_lng": -74.0, "hourly_rate": 35, "services": ["standard"]}
JOB = {
    "client": "cl-1",
    "property": "p-1",
    "service_type": "standard",
    "scheduled_start": "2030-01-07T10:00:00Z",
    "duration_hours": 3,
    "budget": 150,
    "status": "open_for_bids",
}


@pytest.fixture
def key(api_client):
    client = as_key(api_client, integration_key()[1])
    put(client, "clients/cl-1", {"name": "Bo"})
    put(
        client,
        "properties/p-1",
        {"client": "cl-1", "property_type": "apartment", "size_sqft": 900, "lat": 40.73, "lng": -73.99},
    )
    return client


def put(client, path: str, data: dict, method: str = "put") -> None:
    resp = getattr(client, method)(f"/api/v1/marketplace/{path}/", data, format="json")
    assert resp.status_code in (200, 201), resp.content


def _result(client, resp) -> dict:
    if resp.status_code == 202:
        body = client.get(resp.json()["status_url"] + "?wait=20").json()
    else:
        assert resp.status_code == 200, resp.content
        body = resp.json()
    assert body["status"] == "succeeded", body
    return body["result"]


def cleaners_for(client, job: str) -> set[str]:
    resp = client.post(f"/api/v1/jobs/by-external-id/{job}/recommendations/", {"limit": 20}, format="json")
    return {c["cleaner_external_id"] for c in _result(client, resp)["cleaners"]}


def jobs_for(client, cleaner: str) -> set[str]:
    resp = client.post(f"/api/v1/cleaners/by-external-id/{cleaner}/recommendations/", {"limit": 20}, format="json")
    return {j["job_external_id"] for j in _result(client, resp)["jobs"]}


def test_a_cleaner_created_changed_or_deactivated_is_seen_by_the_next_question(celery_worker, key) -> None:
    put(key, "cleaners/c-a", CLEANER)
    put(key, "jobs/j-1", JOB)
    assert cleaners_for(key, "j-1") == {"c-a"}

    put(key, "cleaners/c-b", CLEANER)  # created
    assert cleaners_for(key, "j-1") == {"c-a", "c-b"}

    put(key, "cleaners/c-a", {"is_active": False}, method="patch")  # deactivated
    assert cleaners_for(key, "j-1") == {"c-b"}

    put(key, "cleaners/c-b", {"home_lat": 41.5}, method="patch")  # changed: now far away
    assert cleaners_for(key, "j-1") == set()


def test_a_job_or_a_bid_written_is_seen_by_the_next_question(celery_worker, key) -> None:
    put(key, "cleaners/c-a", CLEANER)
    put(key, "jobs/j-1", JOB)
    assert jobs_for(key, "c-a") == {"j-1"}

    put(key, "jobs/j-2", {**JOB, "scheduled_start": "2030-01-08T10:00:00Z"})  # created
    assert jobs_for(key, "c-a") == {"j-1", "j-2"}

    put(key, "bids/b-1", {"job": "j-1", "cleaner": "c-a", "amount": 120})  # a bid: no longer a job to bid on
    assert jobs_for(key, "c-a") == {"j-2"}

    put(key, "jobs/j-2", {"status": "cancelled"}, method="patch")  # changed
    assert jobs_for(key, "c-a") == set()


def full_loads(worker) -> int:
    """How many times the worker has read its whole cleaner table (its log says each)."""
    return worker.log_path.read_text(errors="replace").count("cleaner table: full load")


def test_cleaner_changes_reach_the_next_question_row_by_row(celery_worker, key) -> None:
    from app.marketplace.models import CleanerProfile

    put(key, "cleaners/c-a", CLEANER)
    put(key, "jobs/j-1", JOB)
    assert cleaners_for(key, "j-1") == {"c-a"}  # the table loaded (this test's first look)
    loads = full_loads(celery_worker)
    assert loads >= 1, f"no full load in {celery_worker.log_path}: the count below would prove nothing"

    put(key, "cleaners/c-b", CLEANER)  # created
    assert cleaners_for(key, "j-1") == {"c-a", "c-b"}
    put(key, "cleaners/c-a", {"home_lat": 41.5}, method="patch")  # changed: now far away
    assert cleaners_for(key, "j-1") == {"c-b"}
    CleanerProfile.objects.filter(external_id="c-a").update(home_lat=40.72)  # behind the ORM's back
    put(key, "cleaners/c-b", {"is_active": False}, method="patch")  # deactivated (and the answer's cache moved)
    assert cleaners_for(key, "j-1") == {"c-a"}

    assert full_loads(celery_worker) == loads, "a change made the worker read every cleaner again"
