"""Who may ask what: every recommendation endpoint for every role, including others' ids.

No worker here: these tests stop at the API's answer (202, 403, 404, 400). The request rows
they create are rolled back with the test; a worker that later receives their message finds
nothing to do.
"""

from __future__ import annotations

import uuid

import pytest

from app.recommendations.models import RecommendationRequest
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    job = f.job()
    other_job = f.job()
    cleaner = f.cleaner()
    other_cleaner = f.cleaner()
    return {
        "job": job,
        "other_job": other_job,
        "cleaner": cleaner,
        "other_cleaner": other_cleaner,
        "client": job.client.user,
        "operator": f.operator(),
    }


@pytest.mark.parametrize(
    ("who", "target", "expected"),
    [
        ("client", "job", 202),
        ("client", "other_job", 404),
        ("cleaner", "job", 404),
        ("operator", "job", 202),
        ("operator", "other_job", 202),
    ],
)
def test_it_lets_only_the_owner_or_an_operator_ask_for_cleaners(api_client, world, who, target, expected) -> None:
    user = world["cleaner"].user if who == "cleaner" else world[who]
    authenticate(api_client, user)
    resp = api_client.post(f"/api/v1/jobs/{world[target].pk}/recommendations/", {}, format="json")
    assert resp.status_code == expected, resp.content
    if expected == 404:
        assert resp["Content-Type"] == "application/problem+json"
        assert resp.json()["detail"]


@pytest.mark.parametrize(
    ("who", "target", "expected"),
    [
        ("cleaner", "cleaner", 202),
        ("cleaner", "other_cleaner", 404),
        ("client", "cleaner", 404),
        ("operator", "other_cleaner", 202),
    ],
)
def test_it_lets_a_cleaner_ask_only_for_their_own_jobs(api_client, world, who, target, expected) -> None:
    user = world["cleaner"].user if who == "cleaner" else world[who]
    authenticate(api_client, user)
    resp = api_client.post(f"/api/v1/cleaners/{world[target].pk}/recommendations/", {"limit": 3}, format="json")
    assert resp.status_code == expected, resp.content


def test_it_suggests_bids_only_to_cleaners_and_operators(api_client, world) -> None:
    url = f"/api/v1/jobs/{world['job'].pk}/bid-suggestions/"
    authenticate(api_client, world["client"])
    assert api_client.post(url, {}, format="json").status_code == 403
    authenticate(api_client, world["cleaner"].user)
    assert api_client.post(url, {}, format="json").status_code == 202
    assert api_client.post(url, {"cleaner_id": world["other_cleaner"].pk}, format="json").status_code == 404
    authenticate(api_client, world["operator"])
    resp = api_client.post(url, {}, format="json")
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "cleaner_id"
    assert api_client.post(url, {"cleaner_id": world["cleaner"].pk}, format="json").status_code == 202


def test_it_shows_a_request_to_its_owner_and_operators_only(api_client, world) -> None:
    authenticate(api_client, world["client"])
    url = api_client.post(f"/api/v1/jobs/{world['job'].pk}/recommendations/", {}, format="json").json()["status_url"]
    assert api_client.get(url).json()["status"] == "queued"
    authenticate(api_client, world["cleaner"].user)
    assert api_client.get(url).status_code == 404
    authenticate(api_client, world["operator"])
    assert api_client.get(url).status_code == 200
    assert api_client.get(f"/api/v1/recommendation-requests/{uuid.uuid4()}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"mode": "magic"}, "mode"),
        ({"callback_url": "http://127.0.0.1/hook"}, "callback_url"),
        ({"callback_url": "ftp://x.example/"}, "callback_url"),
    ],
)
def test_it_names_the_offending_field(api_client, world, body, field) -> None:
    authenticate(api_client, world["client"])
    resp = api_client.post(f"/api/v1/jobs/{world['job'].pk}/recommendations/", body, format="json")
    assert resp.status_code == 400
    problem = resp.json()
    assert problem["status"] == 400 and problem["errors"][0]["field"] == field and problem["detail"]
    assert RecommendationRequest.objects.count() == 0


@pytest.mark.parametrize("query", ["wait=31", "wait=-1", "wait=soon"])
def test_it_refuses_a_bad_wait(api_client, world, query) -> None:
    authenticate(api_client, world["client"])
    url = api_client.post(f"/api/v1/jobs/{world['job'].pk}/recommendations/", {}, format="json").json()["status_url"]
    resp = api_client.get(f"{url}?{query}")
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "wait"


def test_it_answers_malformed_json_with_a_problem(api_client, world) -> None:
    authenticate(api_client, world["client"])
    resp = api_client.post(
        f"/api/v1/jobs/{world['job'].pk}/recommendations/", "{not json", content_type="application/json"
    )
    assert resp.status_code == 400 and resp["Content-Type"] == "application/problem+json"


@pytest.mark.django_db(transaction=True)  # the enqueue runs on commit
def test_it_answers_503_when_the_queue_is_down(api_client, world, monkeypatch) -> None:
    from app.recommendations import services

    def broken(req) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(services, "_enqueue", broken)
    authenticate(api_client, world["client"])
    resp = api_client.post(f"/api/v1/jobs/{world['job'].pk}/recommendations/", {}, format="json")
    assert resp.status_code == 503 and resp.json()["status"] == 503
    assert RecommendationRequest.objects.get().status == "failed"
