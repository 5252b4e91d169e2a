"""The fast path (app/recommendations/api/fast.py) for every kind of credential, against the DRF view.

A client's or a cleaner's token asks about its own subject; an operator's token and an
integration key (`Bearer rsk_...`) ask about anyone. For each, a repeated plain question is
answered without DRF, byte for byte as the view answers it; and a credential without the
right to an answer gets the view's refusal, even when an answer sits in the cache under its
user's id (a cache-only shortcut would have served it). A client's or a cleaner's own
question needs no such case: the answer under its id exists only if it was allowed to ask,
and any change of the subject's ownership invalidates it (docs/cache.md).
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from app.api.throttling import COUNTED, RedisUserRateThrottle
from app.common.redis_client import client as redis_client
from app.integrations import selectors
from app.recommendations.api import fast
from app.recommendations.cache import cache_lookup, cache_put
from tests import factories as f
from tests.factories.integrations import as_key, integration_key
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db


def _seed(user_id: int, *, job_id: int | None = None, cleaner_id: int | None = None) -> None:
    """A fresh cached answer to (user, subject, limit 10), as the worker leaves one."""
    kind = "cleaners_for_job" if job_id else "jobs_for_cleaner"
    found = cache_lookup(kind=kind, user_id=user_id, job_id=job_id, cleaner_id=cleaner_id, limit=10, mode="")
    cache_put(found.token, {"id": "x", "status": "succeeded", "result": {"for": user_id, "job": job_id}})


def _post(api_client, url: str):
    return api_client.generic("POST", url, b'{"limit": 10}', content_type="application/json")


def _without_fast_path(monkeypatch, fn):
    with monkeypatch.context() as m:
        m.setattr(fast, "answer_from_cache", lambda *a, **k: None)
        return fn()


def _same(fast_answer, full_answer) -> None:
    assert fast_answer.status_code == full_answer.status_code, (fast_answer.content, full_answer.content)
    assert fast_answer["Content-Type"] == full_answer["Content-Type"]
    assert fast_answer.content == full_answer.content
    assert set(fast_answer.headers) == set(full_answer.headers)


@pytest.fixture
def drf_calls(monkeypatch) -> list:
    """The requests DRF's view handled (the rest the fast path answered)."""
    calls = []
    real = APIView.dispatch
    monkeypatch.setattr(APIView, "dispatch", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    return calls


def _credential(api_client, who: str, job) -> tuple[int, str]:
    """Authenticate `api_client` as `who`; that user's id and the URL of the question it asks."""
    job_url = f"/api/v1/jobs/{job.pk}/recommendations/"
    if who == "integration key":
        key, secret = integration_key()
        as_key(api_client, secret)
        return key.user_id, job_url
    if who == "cleaner token":
        cleaner = f.cleaner()
        authenticate(api_client, cleaner.user)
        return cleaner.user_id, f"/api/v1/cleaners/{cleaner.pk}/recommendations/"
    user = {"client token": lambda: job.client.user, "operator token": f.operator}[who]()
    authenticate(api_client, user)
    return user.pk, job_url


def _seed_for(user_id: int, url: str) -> None:
    subject = int(url.split("/")[4])
    _seed(user_id, **({"job_id": subject} if "/jobs/" in url else {"cleaner_id": subject}))


CREDENTIALS = ["client token", "cleaner token", "operator token", "integration key"]


@pytest.mark.parametrize("who", CREDENTIALS)
def test_it_answers_a_repeated_question_as_the_view_does(api_client, monkeypatch, drf_calls, who) -> None:
    user_id, url = _credential(api_client, who, f.job())
    _seed_for(user_id, url)
    for _ in range(2):  # the token found in the database, then its user learnt by this process
        assert _post(api_client, url).status_code == 200
    drf_calls.clear()

    with_fast = _post(api_client, url)
    assert not drf_calls, "DRF answered"
    without = _without_fast_path(monkeypatch, lambda: _post(api_client, url))

    assert with_fast.status_code == 200 and with_fast.json()["result"]["for"] == user_id
    _same(with_fast, without)


@pytest.mark.parametrize("who", ["operator token", "integration key"])
@pytest.mark.parametrize(
    ("state", "expected"),
    [("no such job", 404), ("the job completed", 409), ("the job cancelled", 409), ("its property deleted", 409)],
)
def test_it_refuses_a_job_the_view_refuses_even_with_an_answer_cached(
    api_client, monkeypatch, who, state, expected
) -> None:
    job = f.job()
    user_id, _ = _credential(api_client, who, job)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    if state == "no such job":
        url = f"/api/v1/jobs/{job.pk + 1000}/recommendations/"
    elif state == "its property deleted":
        job.property.delete()  # the job's property is set to NULL behind the job's back: no signal
    else:
        job.status = state.rsplit(" ", 1)[1]
        job.save()
    _seed_for(user_id, url)  # after the change: fresh, as a missed invalidation would leave it
    for _ in range(2):
        _post(api_client, url)

    with_fast = _post(api_client, url)
    without = _without_fast_path(monkeypatch, lambda: _post(api_client, url))

    assert with_fast.status_code == expected, with_fast.content
    _same(with_fast, without)


def _refused(api_client, who: str, job) -> tuple[int, str]:
    """A credential that must not get the answer cached under its user's id, and its question."""
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    if who == "a cleaner, for a job's cleaners":
        user = f.cleaner().user
    elif who == "a deactivated operator":
        user = f.operator()
        authenticate(api_client, user)
        _post(api_client, url)  # its record now in the authentication cache
        user.is_active = False
        user.save()
        return user.pk, url
    elif who == "a revoked key":
        from app.integrations.services import integration_key_revoke

        key, secret = integration_key()
        as_key(api_client, secret)
        _post(api_client, url)
        integration_key_revoke(key=key)
        return key.user_id, url
    else:  # a token made by hand for a key's user
        key, _ = integration_key()
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=key.user).key}")
        return key.user_id, url
    authenticate(api_client, user)
    return user.pk, url


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("a cleaner, for a job's cleaners", 404),
        ("a deactivated operator", 401),
        ("a revoked key", 401),
        ("a token for a key's user", 401),
    ],
)
def test_a_credential_without_the_right_is_refused_as_the_view_refuses_it(
    api_client, monkeypatch, who, expected
) -> None:
    user_id, url = _refused(api_client, who, f.job())
    _seed_for(user_id, url)
    for _ in range(2):
        _post(api_client, url)

    with_fast = _post(api_client, url)
    without = _without_fast_path(monkeypatch, lambda: _post(api_client, url))

    assert with_fast.status_code == expected, with_fast.content
    _same(with_fast, without)


def test_a_throttled_key_is_refused_as_the_view_refuses_it(api_client, monkeypatch) -> None:
    monkeypatch.setattr(RedisUserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    job = f.job()
    user_id, url = _credential(api_client, "integration key", job)
    _seed_for(user_id, url)

    _forget_counts(user_id)  # a user of an earlier test may have had this id
    answers = [_post(api_client, url) for _ in range(4)]
    _forget_counts(user_id)
    without = [_without_fast_path(monkeypatch, lambda: _post(api_client, url)) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    _same(answers[-1], without[-1])


def _forget_counts(user_id: int) -> None:
    keys = redis_client().keys(f"recsvc:throttle:user:{user_id}:*")
    if keys:
        redis_client().delete(*keys)


@pytest.mark.parametrize("cached", [True, False], ids=["answered fast", "declined: a new request"])
def test_a_keys_request_is_counted_once_and_its_key_looked_up_once(api_client, monkeypatch, cached) -> None:
    job = f.job()
    user_id, url = _credential(api_client, "integration key", job)
    if cached:
        _seed_for(user_id, url)
    lookups, counts = [], []
    real_lookup = selectors.integration_key_for_secret
    monkeypatch.setattr(
        "app.integrations.authentication.integration_key_for_secret",
        lambda **kw: lookups.append(1) or real_lookup(**kw),
    )
    real_count = RedisUserRateThrottle._count
    monkeypatch.setattr(RedisUserRateThrottle, "_count", lambda self, key: counts.append(key) or real_count(self, key))

    answer = _post(api_client, url)

    assert answer.status_code == (200 if cached else 202), answer.content
    assert len(lookups) == 1
    assert len(counts) == 1 and counts[0].startswith(f"recsvc:throttle:user:{user_id}:")


def test_the_count_the_fast_path_took_is_the_one_the_throttle_reads(rf) -> None:
    request = rf.post("/")
    throttle = RedisUserRateThrottle()

    first = throttle.count_user(request, 12345)

    assert getattr(request, COUNTED)[1] == first
    assert throttle.count_user(rf.post("/"), 12345) == first + 1
