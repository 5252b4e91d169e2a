"""Questions about a subject named by the marketplace's own id: the numeric forms' rules, exactly.

`jobs/by-external-id/{external_id}/recommendations/`, `cleaners/by-external-id/{external_id}/
recommendations/`, `jobs/by-external-id/{external_id}/bid-suggestions/`, and `cleaner_external_id`
in a bid suggestion's body. No worker: these tests stop at the API's answer.
"""

from __future__ import annotations

import json

import pytest

from app.marketplace.models import CleaningJob
from app.recommendations.cache import cache_lookup, cache_put
from app.recommendations.models import RecommendationRequest
from tests import factories as f
from tests.factories.integrations import as_key, integration_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    job = f.job(external_id="job-ext-1")
    other_job = f.job(external_id="job-ext-2")
    cleaner = f.cleaner(external_id="cleaner-ext-1")
    other_cleaner = f.cleaner(external_id="cleaner-ext-2")
    key, secret = integration_key()
    return {
        "job": job,
        "other_job": other_job,
        "cleaner": cleaner,
        "other_cleaner": other_cleaner,
        "client": job.client.user,
        "operator": f.operator(),
        "secret": secret,
        "key": key,
    }


def _as(api_client, world, who: str):
    if who == "key":
        return as_key(api_client, world["secret"])
    user = world["cleaner"].user if who == "cleaner" else world[who]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(user)}")
    return api_client


@pytest.mark.parametrize(
    ("who", "target", "expected"),
    [
        ("client", "job", 202),
        ("client", "other_job", 404),
        ("cleaner", "job", 404),
        ("operator", "other_job", 202),
        ("key", "job", 202),
        ("key", "other_job", 202),
    ],
)
def test_cleaners_for_a_job_by_external_id(api_client, world, who, target, expected) -> None:
    job = world[target]
    resp = _as(api_client, world, who).post(
        f"/api/v1/jobs/by-external-id/{job.external_id}/recommendations/", {"limit": 3}, format="json"
    )

    assert resp.status_code == expected, resp.content
    if expected == 404:
        assert resp["Content-Type"] == "application/problem+json" and resp.json()["status"] == 404
        assert not RecommendationRequest.objects.exists()
    else:
        req = RecommendationRequest.objects.get(pk=resp.json()["id"])
        assert (req.kind, req.job_id, req.limit) == ("cleaners_for_job", job.pk, 3)


@pytest.mark.parametrize(
    ("who", "target", "expected"),
    [
        ("cleaner", "cleaner", 202),
        ("cleaner", "other_cleaner", 404),
        ("client", "cleaner", 404),
        ("operator", "other_cleaner", 202),
        ("key", "other_cleaner", 202),
    ],
)
def test_jobs_for_a_cleaner_by_external_id(api_client, world, who, target, expected) -> None:
    cleaner = world[target]
    resp = _as(api_client, world, who).post(
        f"/api/v1/cleaners/by-external-id/{cleaner.external_id}/recommendations/", {}, format="json"
    )

    assert resp.status_code == expected, resp.content
    if expected == 202:
        assert RecommendationRequest.objects.get(pk=resp.json()["id"]).cleaner_id == cleaner.pk


@pytest.mark.parametrize("who", ["client", "key"])
@pytest.mark.parametrize(
    "path", ["jobs/by-external-id/{}/recommendations/", "cleaners/by-external-id/{}/recommendations/"]
)
def test_an_unknown_or_malformed_external_id_is_a_404(api_client, world, who, path) -> None:
    _as(api_client, world, who)
    for external_id in ["no-such-id", "-starts-with-a-dash", "x" * 65, "has%20space"]:
        resp = api_client.post("/api/v1/" + path.format(external_id), {}, format="json")
        assert resp.status_code == 404, (external_id, resp.content)
        assert resp["Content-Type"] == "application/problem+json"


def test_the_body_is_checked_before_the_subject(api_client, world) -> None:
    resp = _as(api_client, world, "client").post(
        f"/api/v1/jobs/by-external-id/{world['other_job'].external_id}/recommendations/", {"limit": 0}, format="json"
    )
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "limit"  # as the numeric form


def test_both_forms_ask_the_same_question(api_client, world) -> None:
    job = world["job"]
    found = cache_lookup(
        kind="cleaners_for_job", user_id=job.client.user_id, job_id=job.pk, cleaner_id=None, limit=10, mode=""
    )
    cache_put(found.token, {"id": "x", "status": "succeeded", "result": {"job_id": job.pk}})
    _as(api_client, world, "client")

    by_id = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json")
    by_external_id = api_client.post(
        f"/api/v1/jobs/by-external-id/{job.external_id}/recommendations/", {}, format="json"
    )

    assert by_id.status_code == by_external_id.status_code == 200
    assert json.loads(by_id.content) == json.loads(by_external_id.content)


class TestBidSuggestions:
    def _url(self, job) -> str:
        return f"/api/v1/jobs/by-external-id/{job.external_id}/bid-suggestions/"

    def test_a_cleaner_asks_for_themselves(self, api_client, world) -> None:
        _as(api_client, world, "cleaner")
        own = world["cleaner"]

        assert api_client.post(self._url(world["job"]), {}, format="json").status_code == 202
        body = {"cleaner_external_id": own.external_id}
        resp = api_client.post(self._url(world["job"]), body, format="json")
        assert resp.status_code == 202
        assert RecommendationRequest.objects.get(pk=resp.json()["id"]).cleaner_id == own.pk
        body = {"cleaner_external_id": world["other_cleaner"].external_id}
        assert api_client.post(self._url(world["job"]), body, format="json").status_code == 404

    def test_the_numeric_form_takes_cleaner_external_id_too(self, api_client, world) -> None:
        _as(api_client, world, "key")
        body = {"cleaner_external_id": world["cleaner"].external_id}

        resp = api_client.post(f"/api/v1/jobs/{world['job'].pk}/bid-suggestions/", body, format="json")

        assert resp.status_code == 202
        req = RecommendationRequest.objects.get(pk=resp.json()["id"])
        assert (req.job_id, req.cleaner_id) == (world["job"].pk, world["cleaner"].pk)

    def test_a_key_must_name_the_cleaner(self, api_client, world) -> None:
        resp = _as(api_client, world, "key").post(self._url(world["job"]), {}, format="json")
        assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "cleaner_id"

    def test_a_key_asks_for_any_cleaner_on_any_job(self, api_client, world) -> None:
        CleaningJob.objects.filter(pk=world["other_job"].pk).update(status=CleaningJob.Status.ASSIGNED)
        body = {"cleaner_external_id": world["other_cleaner"].external_id}

        resp = _as(api_client, world, "key").post(self._url(world["other_job"]), body, format="json")

        assert resp.status_code == 202  # like an operator: not only open jobs

    def test_a_cleaner_asks_only_about_open_jobs(self, api_client, world) -> None:
        CleaningJob.objects.filter(pk=world["job"].pk).update(status=CleaningJob.Status.ASSIGNED)
        assert _as(api_client, world, "cleaner").post(self._url(world["job"]), {}, format="json").status_code == 404

    def test_a_client_may_not_ask(self, api_client, world) -> None:
        resp = _as(api_client, world, "client").post(self._url(world["job"]), {}, format="json")
        assert resp.status_code == 403 and resp["Content-Type"] == "application/problem+json"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"cleaner_id": 1, "cleaner_external_id": "cleaner-ext-1"}, "cleaner_external_id"),
            ({"cleaner_external_id": "no spaces"}, "cleaner_external_id"),
            ({"cleaner_external_id": ""}, "cleaner_external_id"),
            ({"cleaner_external_id": "x" * 65}, "cleaner_external_id"),
        ],
    )
    def test_it_names_the_offending_field(self, api_client, world, body, field) -> None:
        resp = _as(api_client, world, "key").post(self._url(world["job"]), body, format="json")
        assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == field
        assert not RecommendationRequest.objects.exists()

    def test_an_unknown_job_or_cleaner_is_a_404(self, api_client, world) -> None:
        _as(api_client, world, "key")
        body = {"cleaner_external_id": world["cleaner"].external_id}
        assert (
            api_client.post("/api/v1/jobs/by-external-id/nope/bid-suggestions/", body, format="json").status_code == 404
        )
        body = {"cleaner_external_id": "nope"}
        assert api_client.post(self._url(world["job"]), body, format="json").status_code == 404
