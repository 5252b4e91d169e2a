"""The cached-answer fast path (app/recommendations/api/fast.py) answers as the DRF view would.

Each request below is made twice, with the fast path and without it (the DRF view alone), and
the two answers must be the same: status, content type, body and header names.
"""

import json

import pytest
import redis
from rest_framework.views import APIView

from app.api.authentication import auth_cache_key, throttle_ident, token_from_header
from app.api.throttling import RedisUserRateThrottle
from app.common.redis_client import client as redis_client
from app.recommendations.api import fast
from app.recommendations.cache import cache_lookup, cache_put
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db

ANSWER = {
    "id": "0b0c4e1e-6a39-4c57-a2a7-3f0e9a4f6a11",
    "kind": "cleaners_for_job",
    "status": "succeeded",
    "result": {"job_id": 0, "mode": "ensemble", "candidates": 200, "cleaners": []},
    "error": None,
    "created_at": "2026-11-26T10:00:00Z",
    "finished_at": "2026-11-26T10:00:00.012Z",
}


def _seed(user_id: int, job_id: int, *, limit: int = 10, mode: str = "") -> dict:
    """A fresh cached answer to (user, job, limit, mode), as the worker leaves one."""
    found = cache_lookup(
        kind="cleaners_for_job", user_id=user_id, job_id=job_id, cleaner_id=None, limit=limit, mode=mode
    )
    answer = {**ANSWER, "result": {**ANSWER["result"], "job_id": job_id, "limit": limit, "mode": mode, "for": user_id}}
    cache_put(found.token, answer)
    return answer


@pytest.fixture
def asked(db):
    """A client's job with cached answers for limit 10 (also the default) and for 5 with a mode."""
    job = f.job()
    _seed(job.client.user_id, job.pk)
    _seed(job.client.user_id, job.pk, limit=5, mode="rule_based")
    return job


def _post(api_client, url: str, body: bytes | None, **extra):
    content_type = extra.pop("content_type", "application/json")
    if body is None:
        return api_client.generic("POST", url, **extra)
    return api_client.generic("POST", url, body, content_type=content_type, **extra)


def _without_fast_path(monkeypatch, fn):
    with monkeypatch.context() as m:
        m.setattr(fast, "answer_from_cache", lambda *a, **k: None)
        return fn()


def _same(fast_answer, full_answer) -> None:
    assert fast_answer.status_code == full_answer.status_code, (fast_answer.content, full_answer.content)
    assert fast_answer["Content-Type"] == full_answer["Content-Type"]
    assert fast_answer.content == full_answer.content
    assert set(fast_answer.headers) == set(full_answer.headers)


def _as_owner(api_client, job) -> str:
    """Authenticate as the job's owner, as a client that asked before: the fast path knows the token."""
    authenticate(api_client, job.client.user)
    # The first request finds the token in the database, the second teaches this process its user.
    for _ in range(2):
        assert _post(api_client, f"/api/v1/jobs/{job.pk}/recommendations/", b'{"limit": 10}').status_code == 200
    return f.token(job.client.user)


@pytest.fixture
def drf_calls(monkeypatch) -> list:
    """The requests DRF's view handled (the rest the fast path answered)."""
    calls = []
    real = APIView.dispatch
    monkeypatch.setattr(APIView, "dispatch", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    return calls


VARIANTS = [
    # (name, body, extra request arguments, the expected status, answered by the fast path)
    ("empty body: the default limit", None, {}, 200, True),
    ("a plain question", b'{"limit": 10}', {}, 200, True),
    ("limit and mode", b'{"limit": 5, "mode": "rule_based"}', {}, 200, True),
    ("an empty callback_url", b'{"limit": 10, "callback_url": ""}', {}, 200, True),
    ("JSON with a charset", b'{"limit": 10}', {"content_type": "application/json; charset=utf-8"}, 200, True),
    ("Accept: JSON with parameters", b'{"limit": 10}', {"HTTP_ACCEPT": "application/json; indent=2"}, 200, True),
    ("Accept: anything", b'{"limit": 10}', {"HTTP_ACCEPT": "text/html, */*;q=0.1"}, 200, True),
    ("an unknown field", b'{"limit": 10, "colour": "blue"}', {}, 400, False),
    ("an unknown field only", b'{"limt": 10}', {}, 400, False),
    ("limit as a string", b'{"limit": "10"}', {}, 400, False),
    ("limit as a string with a space", b'{"limit": " 10"}', {}, 400, False),
    ("limit as a float", b'{"limit": 10.0}', {}, 400, False),
    ("limit with an exponent", b'{"limit": 1e1}', {}, 400, False),
    ("limit null", b'{"limit": null}', {}, 400, False),
    ("limit beyond 64 bits", b'{"limit": 18446744073709551616}', {}, 400, False),
    ("limit negative", b'{"limit": -10}', {}, 400, False),
    ("limit beyond a float", b'{"limit": 1e400}', {}, 400, False),
    ("limit of 5000 digits", b'{"limit": ' + b"9" * 5000 + b"}", {}, 400, False),
    ("a format in the query string", b'{"limit": 10}', {"QUERY_STRING": "format=json"}, 200, False),
    ("a question not asked before", b'{"limit": 9}', {}, 202, False),
    ("a callback wanted", b'{"limit": 10, "callback_url": "https://93.184.215.14/hook"}', {}, 202, False),
    ("limit as a boolean", b'{"limit": true}', {}, 400, False),
    ("limit 0", b'{"limit": 0}', {}, 400, False),
    ("limit above the maximum", b'{"limit": 101}', {}, 400, False),
    ("an unknown mode", b'{"limit": 10, "mode": "psychic"}', {}, 400, False),
    ("a list, not an object", b"[1, 2]", {}, 400, False),
    ("not JSON", b"{limit: 10", {}, 400, False),
    ("not UTF-8", b'{"limit": 10, "mode": "\xff"}', {}, 400, False),
    ("NaN", b'{"limit": NaN}', {}, 400, False),
    ("NaN, then a valid value", b'{"limit": NaN, "limit": 10}', {}, 400, False),
    ("a byte order mark", b'\xef\xbb\xbf{"limit": 10}', {}, 400, False),
    ("a repeated key", b'{"limit": 5, "limit": 10}', {}, 400, False),
    ("nested too deeply", b'{"limit": 10, "mode": ' + b"[" * 40 + b"]" * 40 + b"}", {}, 400, False),
    ("a lone surrogate in mode", b'{"limit": 10, "mode": "\\ud800"}', {}, 400, False),
    ("a lone surrogate in a key", b'{"limit": 10, "\\udc00": 1}', {}, 400, False),
    ("UTF-16 with no charset", '{"limit": 10}'.encode("utf-16"), {}, 400, False),
    ("UTF-8 said to be UTF-16", b'{"limit": 10}', {"content_type": "application/json; charset=utf-16"}, 400, False),
    ("an empty Accept", b'{"limit": 10}', {"HTTP_ACCEPT": ""}, 406, False),
    ("a form, not JSON", b"limit=10", {"content_type": "application/x-www-form-urlencoded"}, 415, False),
    ("Accept: HTML only", b'{"limit": 10}', {"HTTP_ACCEPT": "text/html"}, 406, False),
    ("an unknown format", b'{"limit": 10}', {"QUERY_STRING": "format=xml"}, 404, False),
]


@pytest.mark.parametrize(
    ("body", "extra", "expected", "answered_fast"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS]
)
def test_it_answers_every_variant_as_the_view_does(
    api_client, asked, monkeypatch, drf_calls, body, extra, expected, answered_fast
) -> None:
    _as_owner(api_client, asked)
    url = f"/api/v1/jobs/{asked.pk}/recommendations/"
    drf_calls.clear()

    with_fast = _post(api_client, url, body, **extra)
    assert with_fast.status_code == expected, with_fast.content
    assert (not drf_calls) == answered_fast
    if expected == 202:  # a new request each time: compare the shape
        without = _without_fast_path(monkeypatch, lambda: _post(api_client, url, body, **extra))
        assert without.status_code == 202 and without.json().keys() == with_fast.json().keys()
        return
    without = _without_fast_path(monkeypatch, lambda: _post(api_client, url, body, **extra))
    _same(with_fast, without)


@pytest.mark.parametrize(
    "header",
    ["Bearer {key}", "Token", "Token {key} extra", "Token nosuchtoken", "Token\xa0{key}", "Basic dXNlcjpwdw=="],
)
def test_it_leaves_other_credentials_to_the_view(api_client, asked, monkeypatch, header) -> None:
    key = _as_owner(api_client, asked)
    url = f"/api/v1/jobs/{asked.pk}/recommendations/"
    api_client.credentials(HTTP_AUTHORIZATION=header.format(key=key))

    with_fast = _post(api_client, url, b'{"limit": 10}')
    without = _without_fast_path(monkeypatch, lambda: _post(api_client, url, b'{"limit": 10}'))

    assert with_fast.status_code == 401
    _same(with_fast, without)


def test_it_reads_the_token_header_as_drf_does(rf) -> None:
    def key(header: str) -> str | None:
        return token_from_header(rf.post("/", HTTP_AUTHORIZATION=header))

    assert key("Token abc") == "abc"
    assert key("token  abc ") == "abc"
    assert key("Bearer abc") is None
    assert key("Token") is None
    assert key("Token a b") is None
    assert key("Token\xa0abc") is None  # not ASCII whitespace: DRF sees one word


def test_it_answers_a_plain_repeated_question_without_drf(api_client, asked, monkeypatch) -> None:
    _as_owner(api_client, asked)
    url = f"/api/v1/jobs/{asked.pk}/recommendations/"
    monkeypatch.setattr(APIView, "dispatch", lambda *a, **k: pytest.fail("DRF was asked"))
    commands = []
    real = redis.Redis.execute_command
    monkeypatch.setattr(
        redis.Redis, "execute_command", lambda self, *args, **kw: commands.append(args[0]) or real(self, *args, **kw)
    )

    answer = _post(api_client, url, b'{"limit": 10}')

    assert answer.status_code == 200
    assert json.loads(answer.content)["cached"] is True
    assert answer["Allow"] == "POST, OPTIONS"
    assert commands == ["EVALSHA"]  # token, throttle and cache in one round trip


def test_a_wrong_guess_of_the_tokens_user_reads_nothing_of_that_user(api_client, asked, monkeypatch) -> None:
    owner = asked.client.user
    other = f.operator()
    _seed(other.pk, asked.pk)  # the operator asked the same question: an answer under the operator's id
    key = f.token(owner)
    authenticate(api_client, owner)
    url = f"/api/v1/jobs/{asked.pk}/recommendations/"
    _post(api_client, url, b'{"limit": 3}')  # the owner's record is now in the authentication cache
    fast._token_users[throttle_ident(key)] = (other.pk, False)

    answer = _post(api_client, url, b'{"limit": 10}')

    assert answer.status_code == 200
    assert json.loads(answer.content)["result"]["for"] == owner.pk
    assert fast._token_users[throttle_ident(key)] == (owner.pk, False)  # corrected for the next question
    # And with nothing cached for the owner, the operator's answer is not served either.
    redis_client().delete(
        cache_lookup(
            kind="cleaners_for_job", user_id=owner.pk, job_id=asked.pk, cleaner_id=None, limit=10, mode=""
        ).token.rpartition("#")[0]
    )
    fast._token_users[throttle_ident(key)] = (other.pk, False)
    assert _post(api_client, url, b'{"limit": 10}').status_code == 202


def test_a_miss_is_counted_once_and_looked_up_once(api_client, monkeypatch) -> None:
    job = f.job()
    key = f.token(job.client.user)
    authenticate(api_client, job.client.user)
    url = f"/api/v1/jobs/{job.pk}/recommendations/"
    # The first request finds the token in the database, the second teaches this process its user.
    assert [_post(api_client, url, b'{"limit": 10}').status_code for _ in range(2)] == [202, 202]
    lookups = []
    real = fast.cache_lookup
    monkeypatch.setattr(fast, "cache_lookup", lambda **kw: lookups.append(kw) or real(**kw))
    window = RedisUserRateThrottle().window_for(throttle_ident=throttle_ident(key))[0]
    before = int(redis_client().get(window) or 0)

    assert _post(api_client, url, b'{"limit": 7}').status_code == 202

    assert int(redis_client().get(window)) == before + 1
    assert lookups == []  # the fast path's lookup, in the token's round trip, served the view too


@pytest.mark.parametrize("who", ["operator", "cleaner", "another client"])
def test_it_answers_anyone_but_the_owner_as_the_view_does(api_client, asked, monkeypatch, who) -> None:
    user = {"operator": f.operator, "cleaner": lambda: f.cleaner().user, "another client": lambda: f.client().user}[
        who
    ]()
    if who != "another client":  # only they could have an answer cached under their id
        _seed(user.pk, asked.pk)
    authenticate(api_client, user)
    url = f"/api/v1/jobs/{asked.pk}/recommendations/"
    _post(api_client, url, b'{"limit": 3}')  # the token's user is in the authentication cache

    with_fast = _post(api_client, url, b'{"limit": 10}')
    without = _without_fast_path(monkeypatch, lambda: _post(api_client, url, b'{"limit": 10}'))

    assert with_fast.status_code == (200 if who == "operator" else 404)
    _same(with_fast, without)


def test_it_leaves_a_throttled_user_to_the_view(api_client, asked, monkeypatch) -> None:
    monkeypatch.setattr(RedisUserRateThrottle, "THROTTLE_RATES", {"user": "4/min", "anon": "4/min"})
    _as_owner(api_client, asked)  # two of the four
    url = f"/api/v1/jobs/{asked.pk}/recommendations/"

    answers = [_post(api_client, url, b'{"limit": 10}').status_code for _ in range(3)]

    assert answers == [200, 200, 429]


def test_it_leaves_an_inactive_users_record_to_the_view(api_client, asked) -> None:
    key = f.token(asked.client.user)
    record = {
        "id": asked.client.user_id,
        "username": "x",
        "role": "client",
        "is_staff": False,
        "is_superuser": False,
        "is_active": False,
    }
    redis_client().set(auth_cache_key(key), json.dumps(record), ex=60)  # as if written behind the ORM's back
    authenticate(api_client, asked.client.user)

    answer = _post(api_client, f"/api/v1/jobs/{asked.pk}/recommendations/", b'{"limit": 10}')

    assert answer.status_code == 401


def test_it_leaves_everything_to_the_view_when_redis_is_unreachable(api_client, asked, redis_unreachable) -> None:
    authenticate(api_client, asked.client.user)

    answer = _post(api_client, f"/api/v1/jobs/{asked.pk}/recommendations/", b'{"limit": 10}')

    # The token checked in the database, no cache: a new request (the broker is another Redis here).
    assert answer.status_code == 202, answer.content


def test_an_operator_is_answered_by_the_view_under_the_subjects_variant(api_client, settings, drf_calls) -> None:
    from app.recommendations.experiments import experiment_assign_for_user

    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    cleaner = f.cleaner()
    subject_mode = experiment_assign_for_user(user_id=cleaner.user_id).cache_mode
    operator = f.operator()
    while experiment_assign_for_user(user_id=operator.pk).cache_mode == subject_mode:
        operator = f.operator()  # one in the other variant
    # An answer under the operator's own variant: not the question the view asks on the
    # cleaner's behalf (the cleaner's variant).
    found = cache_lookup(
        kind="jobs_for_cleaner",
        user_id=operator.pk,
        job_id=None,
        cleaner_id=cleaner.pk,
        limit=10,
        mode=experiment_assign_for_user(user_id=operator.pk).cache_mode,
    )
    cache_put(found.token, ANSWER)
    authenticate(api_client, operator)
    url = f"/api/v1/cleaners/{cleaner.pk}/recommendations/"
    for _ in range(2):
        _post(api_client, url, b'{"limit": 3}')  # the token is now cached and its user known
    drf_calls.clear()

    answer = _post(api_client, url, b'{"limit": 10}')

    assert answer.status_code == 202, answer.content  # the cleaner's variant: not cached yet
    assert drf_calls


def test_it_refuses_an_unknown_mode_even_with_an_answer_under_it(api_client, asked) -> None:
    _seed(asked.client.user_id, asked.pk, mode="psychic")  # cannot happen; the check must not rely on that
    _as_owner(api_client, asked)

    answer = _post(api_client, f"/api/v1/jobs/{asked.pk}/recommendations/", b'{"limit": 10, "mode": "psychic"}')

    assert answer.status_code == 400
