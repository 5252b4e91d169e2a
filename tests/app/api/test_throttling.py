"""Per-user throttling in Redis: over the rate, a 429 problem with Retry-After; users are counted apart."""

import pytest

from app.api.throttling import RedisUserRateThrottle
from app.common.redis_client import client as redis_client
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(RedisUserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    for key in redis_client().scan_iter("recsvc:throttle:*"):
        redis_client().delete(key)


def test_it_throttles_a_user_over_the_rate(api_client, three_a_minute) -> None:
    user, other = f.client().user, f.client().user
    authenticate(api_client, user)
    url = "/api/v1/recommendation-requests/00000000-0000-0000-0000-000000000000/"
    assert [api_client.get(url).status_code for _ in range(3)] == [404, 404, 404]
    resp = api_client.get(url)
    assert resp.status_code == 429
    assert resp["Content-Type"] == "application/problem+json" and resp.json()["status"] == 429
    assert 0 < int(resp["Retry-After"]) <= 61
    authenticate(api_client, other)
    assert api_client.get(url).status_code == 404  # another user has their own allowance


def test_it_throttles_anonymous_callers_by_address(api_client, three_a_minute) -> None:
    codes = [
        api_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [400, 400, 429]


def _login_from(api_client, forwarded_for: str) -> int:
    body = {"username": "x", "password": "y"}
    return api_client.post(LOGIN, body, format="json", HTTP_X_FORWARDED_FOR=forwarded_for).status_code


LOGIN = "/api/v1/auth/token/"


def test_a_made_up_forwarded_for_gets_no_allowance_of_its_own(api_client, three_a_minute) -> None:
    # No proxy of ours in front (the default): the connection's address counts, whatever the header says.
    assert [_login_from(api_client, f"198.51.100.{i}") for i in range(3)] == [400, 400, 429]


def test_behind_a_trusted_proxy_it_counts_the_address_that_proxy_saw(api_client, three_a_minute, settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # Whatever the client wrote comes first; our proxy appends the address it saw.
    assert [_login_from(api_client, f"198.51.100.{i}, 203.0.113.7") for i in range(3)] == [400, 400, 429]
    assert _login_from(api_client, "198.51.100.1, 203.0.113.8") == 400  # another client, its own allowance


@pytest.mark.parametrize(("environment", "expected"), [({}, 0), ({"TRUSTED_PROXY_COUNT": "2"}, 2)])
def test_the_proxy_count_comes_from_the_environment(environment: dict, expected: int) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRUSTED_PROXY_COUNT"} | environment
    code = "import django; django.setup(); from rest_framework.settings import api_settings; print(api_settings.NUM_PROXIES)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(expected)


@pytest.mark.parametrize(("environment", "expected"), [({}, "http"), ({"TRUSTED_PROXY_COUNT": "1"}, "https")])
def test_production_trusts_x_forwarded_proto_only_behind_a_declared_proxy(environment: dict, expected: str) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRUSTED_PROXY_COUNT"} | environment
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_SECRET_KEY": "x" * 50}
    env |= {"DJANGO_ALLOWED_HOSTS": "testserver"}
    code = (
        "import django; django.setup(); from django.test import RequestFactory; "
        "print(RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').scheme)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == expected


def test_it_answers_the_liveness_probe(client) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_it_throttles_a_session_user_by_id(api_client, three_a_minute) -> None:
    api_client.force_login(f.client().user)  # no token: the throttle counts by itself
    url = "/api/v1/recommendation-requests/00000000-0000-0000-0000-000000000000/"
    assert [api_client.get(url).status_code for _ in range(4)] == [404, 404, 404, 429]


def test_a_made_up_token_leaves_no_counter_behind(api_client, three_a_minute) -> None:
    from app.api.authentication import throttle_ident

    made_up = "f" * 40
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {made_up}")
    assert api_client.get("/api/v1/recommendation-requests/00000000-0000-0000-0000-000000000000/").status_code == 401
    assert list(redis_client().scan_iter(f"recsvc:throttle:*{throttle_ident(made_up)}*")) == []
