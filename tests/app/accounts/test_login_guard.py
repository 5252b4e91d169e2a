"""Failed logins are counted per account and per address; over either limit every login is refused.

The admin's login page and the API's token exchange share the counters, and a refused attempt
is refused before any password is hashed, the right one included.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher

from app.common.redis_client import client as redis_client
from tests import factories as f

pytestmark = pytest.mark.django_db

ADMIN = "/admin/login/"
API = "/api/v1/auth/token/"


@pytest.fixture
def limits(settings):
    """Three failures per account, five per address, in a window of a minute."""
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    settings.LOGIN_FAILURE_WINDOW = 60
    for key in redis_client().scan_iter("recsvc:login:*"):
        redis_client().delete(key)
    yield
    for key in redis_client().scan_iter("recsvc:login:*"):
        redis_client().delete(key)


@pytest.fixture
def admin_user():
    return f.user("operator", username="boss", is_staff=True, is_superuser=True)  # password "pw"


def _admin_login(client, username: str, password: str, **extra):
    return client.post(ADMIN, {"username": username, "password": password, "next": "/admin/"}, **extra)


def _api_login(api_client, username: str, password: str, **extra):
    return api_client.post(API, {"username": username, "password": password}, format="json", **extra)


def test_it_refuses_the_right_admin_password_after_too_many_wrong_ones(client, limits, admin_user) -> None:
    assert [_admin_login(client, "boss", f"guess{i}").status_code for i in range(3)] == [200, 200, 200]

    refused = _admin_login(client, "boss", "pw")

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 61
    assert b"Too many failed logins" in refused.content
    assert "_auth_user_id" not in client.session


def test_an_admin_login_under_the_limits_still_works(client, limits, admin_user) -> None:
    assert [_admin_login(client, "boss", f"guess{i}").status_code for i in range(2)] == [200, 200]
    assert _admin_login(client, "boss", "pw").status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)


def test_it_counts_per_address_across_accounts(client, limits, admin_user) -> None:
    assert {_admin_login(client, f"nobody{i}", "x").status_code for i in range(5)} == {200}

    assert _admin_login(client, "boss", "pw").status_code == 429
    # Another address has its own allowance; a made-up X-Forwarded-For is not another address.
    assert _admin_login(client, "boss", "pw", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert _admin_login(client, "boss", "pw", REMOTE_ADDR="203.0.113.9").status_code == 302


def test_the_api_refuses_the_right_password_with_a_429_problem(api_client, limits) -> None:
    user = f.client().user
    assert [_api_login(api_client, user.username, "wrong").status_code for _ in range(3)] == [400, 400, 400]

    refused = _api_login(api_client, user.username, "pw")

    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert body["status"] == 429 and body["detail"].startswith("Too many failed logins for this account")
    assert 0 < int(refused["Retry-After"]) <= 61
    assert "token" not in body


def test_the_admin_and_the_api_share_the_counters(client, api_client, limits, admin_user) -> None:
    for i in range(3):
        _admin_login(client, "boss", f"guess{i}")
    assert _api_login(api_client, "boss", "pw").status_code == 429


def test_a_refused_attempt_hashes_no_password(api_client, limits, monkeypatch) -> None:
    user = f.client().user
    for _ in range(3):
        _api_login(api_client, user.username, "wrong")
    hashed = []
    real = MD5PasswordHasher.verify
    monkeypatch.setattr(MD5PasswordHasher, "verify", lambda self, *a: hashed.append(1) or real(self, *a))

    assert _api_login(api_client, user.username, "pw").status_code == 429
    assert hashed == []


def test_its_counters_name_no_account(api_client, limits) -> None:
    _api_login(api_client, "someone-" + "x" * 5000, "wrong")
    keys = [k.decode() for k in redis_client().scan_iter("recsvc:login:*")]
    assert len(keys) == 2 and not any("someone" in k for k in keys)
    assert all(len(k) < 100 for k in keys)


def test_without_redis_the_api_login_fails_closed_with_a_503_problem(api_client, limits, redis_unreachable) -> None:
    user = f.client().user

    for password in ("wrong", "pw"):
        refused = _api_login(api_client, user.username, password)
        assert refused.status_code == 503, refused.content
        assert refused["Content-Type"] == "application/problem+json"
        body = refused.json()
        assert body["status"] == 503 and "cannot check failed attempts" in body["detail"]
        assert "token" not in body


def test_without_redis_no_password_is_checked(api_client, limits, redis_unreachable, monkeypatch) -> None:
    user = f.client().user
    hashed = []
    real = MD5PasswordHasher.verify
    monkeypatch.setattr(MD5PasswordHasher, "verify", lambda self, *a: hashed.append(1) or real(self, *a))

    assert _api_login(api_client, user.username, "pw").status_code == 503
    assert hashed == []


def test_without_redis_the_admin_login_is_a_503_page(client, limits, admin_user, redis_unreachable) -> None:
    refused = _admin_login(client, "boss", "pw")

    assert refused.status_code == 503
    assert b"Logins are unavailable" in refused.content
    assert "_auth_user_id" not in client.session


def test_logins_work_again_once_redis_answers(api_client, limits, redis_unreachable, settings) -> None:
    from app.common import redis_client

    user = f.client().user
    assert _api_login(api_client, user.username, "pw").status_code == 503
    settings.REDIS_URL = redis_unreachable
    redis_client.client.cache_clear()
    assert _api_login(api_client, user.username, "pw").status_code == 200
