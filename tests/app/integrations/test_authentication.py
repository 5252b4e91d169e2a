"""`Authorization: Bearer <integration key>` beside the end users' `Token`, and `IsIntegration`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from app.api.permissions import IsIntegration
from app.api.throttling import RedisUserRateThrottle
from app.common.redis_client import client as redis_client
from app.integrations.models import IntegrationKey
from app.integrations.services import integration_key_revoke
from tests import factories as f
from tests.factories.integrations import as_key, integration_key

pytestmark = pytest.mark.django_db

PROBE = "/api/v1/recommendation-requests/00000000-0000-0000-0000-000000000000/"


class TestBearer:
    def test_it_authenticates_a_key_as_its_user(self, api_client) -> None:
        _, secret = integration_key()
        assert as_key(api_client, secret).get(PROBE).status_code == 404  # authenticated; no such request

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer",
            "Bearer {secret} extra",
            "Bearer {secret}x",
            "Bearer rsk_00000000_{tail}",
            "Bearer not-a-key",
            "bearer {prefix}_wrong",
        ],
    )
    def test_it_refuses_anything_but_a_live_keys_secret(self, api_client, header) -> None:
        _, secret = integration_key()
        prefix, tail = secret[:12], secret[13:]  # rsk_<8 hex>_<random>
        api_client.credentials(HTTP_AUTHORIZATION=header.format(secret=secret, prefix=prefix, tail=tail))

        resp = api_client.get(PROBE)

        assert resp.status_code == 401 and resp["Content-Type"] == "application/problem+json"
        assert resp["WWW-Authenticate"] == "Token"  # the first scheme names itself, as before

    def test_a_users_token_is_no_bearer_key(self, api_client) -> None:
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {f.token(f.client().user)}")
        assert api_client.get(PROBE).status_code == 401

    def test_the_token_scheme_is_unchanged(self, api_client) -> None:
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.client().user)}")
        assert api_client.get(PROBE).status_code == 404

    def test_a_token_made_for_a_keys_user_is_refused(self, api_client) -> None:
        key, _ = integration_key()
        token = Token.objects.create(user=key.user)  # by hand, in the admin: not a way around revocation
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert api_client.get(PROBE).status_code == 401

    def test_a_key_whose_user_was_deactivated_is_refused(self, api_client) -> None:
        key, secret = integration_key()
        key.user.is_active = False
        key.user.save()
        assert as_key(api_client, secret).get(PROBE).status_code == 401


class TestLastUsed:
    def test_it_notes_the_first_use_and_then_at_most_once_a_minute(self, api_client, django_assert_num_queries) -> None:
        key, secret = integration_key()
        as_key(api_client, secret)
        assert key.last_used_at is None

        api_client.get(PROBE)
        first = IntegrationKey.objects.get(pk=key.pk).last_used_at
        assert first is not None
        with django_assert_num_queries(2):  # the key, the request lookup: no write
            api_client.get(PROBE)
        assert IntegrationKey.objects.get(pk=key.pk).last_used_at == first

        IntegrationKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
        api_client.get(PROBE)
        assert IntegrationKey.objects.get(pk=key.pk).last_used_at > first


class TestThrottle:
    def test_a_key_is_throttled_like_any_user(self, api_client, monkeypatch) -> None:
        monkeypatch.setattr(RedisUserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
        key, secret = integration_key()
        # Counted under its user's id, which a test database made again can hand out anew.
        stale = list(redis_client().scan_iter(f"recsvc:throttle:user:{key.user_id}:*"))
        if stale:
            redis_client().delete(*stale)
        as_key(api_client, secret)

        answers = [api_client.get(PROBE).status_code for _ in range(4)]

        assert answers == [404, 404, 404, 429]


class _KeysOnly(APIView):
    permission_classes = [IsIntegration]

    def post(self, request) -> Response:
        return Response({"by": request.user.username})


class TestIsIntegration:
    """What the sync API will use: only integration keys may write marketplace data."""

    def _post(self, header: str | None):
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        return _KeysOnly.as_view()(APIRequestFactory().post("/", {}, format="json", **extra))

    def test_it_lets_a_key_in(self) -> None:
        key, secret = integration_key()
        resp = self._post(f"Bearer {secret}")
        assert resp.status_code == 200 and resp.data == {"by": key.user.username}

    @pytest.mark.parametrize("who", ["client", "cleaner", "operator", "superuser"])
    def test_it_keeps_every_person_out(self, who) -> None:
        user = {
            "client": lambda: f.client().user,
            "cleaner": lambda: f.cleaner().user,
            "operator": f.operator,
            "superuser": lambda: f.user(is_staff=True, is_superuser=True),
        }[who]()
        resp = self._post(f"Token {f.token(user)}")
        assert resp.status_code == 403
        assert str(resp.data["detail"]) == "Only integration keys can do this."

    def test_it_wants_the_key_itself_not_its_user_signed_in_otherwise(self) -> None:
        key, _ = integration_key()
        request = APIRequestFactory().post("/", {}, format="json")
        force_authenticate(request, user=key.user)  # as a session would: the user, without the key
        assert _KeysOnly.as_view()(request).status_code == 403

    def test_it_refuses_a_revoked_key_and_no_credentials(self) -> None:
        key, secret = integration_key()
        integration_key_revoke(key=key)
        assert self._post(f"Bearer {secret}").status_code == 401
        assert self._post(None).status_code == 401
