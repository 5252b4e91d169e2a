"""Token authentication cached in Redis: fast, and never stale after a change through the ORM."""

import pytest
from rest_framework.authtoken.models import Token

from app.api.authentication import auth_cache_key
from app.common.redis_client import client as redis_client
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db
URL = "/api/v1/recommendation-requests/00000000-0000-0000-0000-000000000000/"


def _get(api_client, token: str) -> int:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api_client.get(URL).status_code


def test_it_authenticates_from_the_cache_without_a_query(api_client, django_assert_num_queries) -> None:
    user = f.client().user
    token = f.token(user)
    assert _get(api_client, token) == 404  # authenticated; the request id does not exist
    assert redis_client().exists(auth_cache_key(token))
    assert token not in str(redis_client().get(auth_cache_key(token)))  # the key is a hash
    with django_assert_num_queries(1):  # the request lookup only: no token query
        assert _get(api_client, token) == 404


def test_it_forgets_a_deleted_token_at_once(api_client) -> None:
    token = f.token(f.client().user)
    assert _get(api_client, token) == 404
    Token.objects.filter(key=token).delete()
    assert _get(api_client, token) == 401


def test_it_forgets_a_deactivated_user_at_once(api_client) -> None:
    user = f.client().user
    token = f.token(user)
    assert _get(api_client, token) == 404
    user.is_active = False
    user.save()
    assert _get(api_client, token) == 401


def test_it_sees_a_role_change_at_once(api_client) -> None:
    job = f.job()
    outsider = f.client().user
    authenticate(api_client, outsider)
    assert api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json").status_code == 404
    outsider.role = "operator"
    outsider.save()
    assert api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {}, format="json").status_code == 202


def test_it_refuses_an_unknown_token(api_client) -> None:
    assert _get(api_client, "0" * 40) == 401


@pytest.mark.parametrize("key", ["abc\x00def", "a" * 41, "\xe9" * 10, "a\x7fb"])
def test_it_refuses_a_token_no_stored_token_could_be_without_a_query(
    api_client, key: str, django_assert_num_queries
) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with django_assert_num_queries(0):  # a NUL would have reached PostgreSQL, which refuses it: a 500
        resp = api_client.get(URL)
    assert resp.status_code == 401 and resp["Content-Type"] == "application/problem+json"
