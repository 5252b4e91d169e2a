"""An integration key asks about anyone, as an operator does, and operates nothing.

And a key's repeated question is answered by the cached-answer fast path
(app/recommendations/api/fast.py) exactly as the DRF view answers it without the fast path.
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from app.recommendations.api import fast
from app.recommendations.cache import cache_lookup, cache_put
from app.recommendations.models import ModelVersion, RecommendationRequest
from tests import factories as f
from tests.factories.integrations import as_key, integration_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def keyed(api_client):
    key, secret = integration_key()
    as_key(api_client, secret)
    return key


class TestAsksAboutAnyone:
    def test_cleaners_for_any_job(self, api_client, keyed) -> None:
        job = f.job()
        resp = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"limit": 3}, format="json")

        assert resp.status_code == 202, resp.content
        req = RecommendationRequest.objects.get(pk=resp.json()["id"])
        assert (req.requested_by_id, req.job_id) == (keyed.user_id, job.pk)

    def test_jobs_for_any_cleaner(self, api_client, keyed) -> None:
        cleaner = f.cleaner()
        assert api_client.post(f"/api/v1/cleaners/{cleaner.pk}/recommendations/", {}, format="json").status_code == 202

    def test_a_bid_suggestion_for_any_cleaner(self, api_client, keyed) -> None:
        job, cleaner = f.job(), f.cleaner()
        url = f"/api/v1/jobs/{job.pk}/bid-suggestions/"
        assert api_client.post(url, {"cleaner_id": cleaner.pk}, format="json").status_code == 202
        resp = api_client.post(url, {}, format="json")
        assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "cleaner_id"

    def test_a_missing_job_is_still_a_404(self, api_client, keyed) -> None:
        assert api_client.post("/api/v1/jobs/999999/recommendations/", {}, format="json").status_code == 404

    def test_it_reads_its_own_requests_only(self, api_client, keyed) -> None:
        job = f.job()
        mine = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json").json()["status_url"]
        assert api_client.get(mine).status_code == 200

        _, another = integration_key("another")
        assert as_key(api_client, another).get(mine).status_code == 404
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(job.client.user)}")
        assert api_client.get(mine).status_code == 404  # the job's client did not ask it


class TestOperatesNothing:
    @pytest.mark.parametrize(
        ("method", "url"),
        [
            ("get", "/api/v1/models/"),
            ("post", "/api/v1/models/retrain/"),
            ("post", "/api/v1/models/1.0/activate/"),
            ("get", "/api/v1/recommendations/stats/"),
            ("get", "/api/v1/experiments/results/"),
            ("get", "/api/v1/integration-keys/"),
        ],
    )
    def test_operator_endpoints_are_refused(self, api_client, keyed, method, url) -> None:
        ModelVersion.objects.create(version="1.0", status="candidate")

        resp = getattr(api_client, method)(url, {}, format="json")

        assert resp.status_code == 403, resp.content
        assert resp["Content-Type"] == "application/problem+json"
        assert ModelVersion.objects.get(version="1.0").status == "candidate"

    def test_it_has_no_operator_page(self, client, keyed) -> None:
        client.force_login(keyed.user)
        assert client.get("/ops/").status_code == 403


# -- the fast path ------------------------------------------------------------------------------


def _post(api_client, url: str):
    return api_client.generic("POST", url, b'{"limit": 10}', content_type="application/json")


def _same(fast_answer, full_answer) -> None:
    assert fast_answer.status_code == full_answer.status_code, (fast_answer.content, full_answer.content)
    assert fast_answer["Content-Type"] == full_answer["Content-Type"]
    assert fast_answer.content == full_answer.content
    assert set(fast_answer.headers) == set(full_answer.headers)


@pytest.fixture
def drf_calls(monkeypatch) -> list:
    calls = []
    real = APIView.dispatch
    monkeypatch.setattr(APIView, "dispatch", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    return calls


def _seed(user_id: int, job_id: int) -> None:
    """A fresh cached answer to (user, job, limit 10), as the worker leaves one."""
    found = cache_lookup(kind="cleaners_for_job", user_id=user_id, job_id=job_id, cleaner_id=None, limit=10, mode="")
    cache_put(found.token, {"id": "x", "status": "succeeded", "result": {"job_id": job_id, "for": user_id}})


class TestFastPath:
    def test_a_keys_repeated_question_is_answered_as_the_view_does(
        self, api_client, keyed, monkeypatch, drf_calls
    ) -> None:
        job = f.job()
        _seed(keyed.user_id, job.pk)
        url = f"/api/v1/jobs/{job.pk}/recommendations/"
        _post(api_client, url)
        drf_calls.clear()

        with_fast = _post(api_client, url)
        assert not drf_calls  # answered by the fast path
        with monkeypatch.context() as m:
            m.setattr(fast, "answer_from_cache", lambda *a, **k: None)
            without = _post(api_client, url)

        assert with_fast.status_code == 200 and with_fast.json()["result"]["for"] == keyed.user_id
        _same(with_fast, without)

    def test_a_token_made_for_a_keys_user_takes_no_shortcut(self, api_client, keyed, monkeypatch) -> None:
        job = f.job()
        _seed(keyed.user_id, job.pk)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=keyed.user).key}")
        url = f"/api/v1/jobs/{job.pk}/recommendations/"

        with_fast = [_post(api_client, url) for _ in range(2)][-1]
        with monkeypatch.context() as m:
            m.setattr(fast, "answer_from_cache", lambda *a, **k: None)
            without = _post(api_client, url)

        assert with_fast.status_code == 401
        _same(with_fast, without)

    def test_a_revoked_key_gets_no_cached_answer(self, api_client, keyed) -> None:
        from app.integrations.services import integration_key_revoke

        job = f.job()
        _seed(keyed.user_id, job.pk)
        url = f"/api/v1/jobs/{job.pk}/recommendations/"
        assert _post(api_client, url).status_code == 200

        integration_key_revoke(key=keyed)

        assert _post(api_client, url).status_code == 401
