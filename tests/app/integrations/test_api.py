"""`/api/v1/integration-keys/`: operators create, list, show and revoke keys; nobody else can."""

from __future__ import annotations

import hashlib

import pytest

from app.accounts.models import User
from app.integrations.models import IntegrationKey
from tests import factories as f
from tests.factories.integrations import as_key, integration_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/integration-keys/"
# Any authenticated GET whose answer does not depend on the role: the request does not exist.
PROBE = "/api/v1/recommendation-requests/00000000-0000-0000-0000-000000000000/"


def _as(api_client, user: User):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(user)}")
    return api_client


class TestCreate:
    def test_it_shows_the_secret_once_and_stores_only_its_hash(self, api_client) -> None:
        operator = f.operator()
        resp = _as(api_client, operator).post(URL, {"name": "nightly sync"}, format="json")

        assert resp.status_code == 201, resp.content
        body = resp.json()
        secret = body["secret"]
        assert secret.startswith(body["prefix"] + "_") and len(secret) > 50
        assert resp["Location"].endswith(f"{URL}{body['id']}/")
        assert (body["name"], body["created_by"], body["is_active"], body["revoked_at"]) == (
            "nightly sync",
            operator.username,
            True,
            None,
        )
        row = IntegrationKey.objects.get(pk=body["id"])
        assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in str(IntegrationKey.objects.filter(pk=row.pk).values().get())
        # Never again: not in the list, not in the key's own page.
        assert secret not in api_client.get(URL).content.decode()
        assert "secret" not in api_client.get(resp["Location"]).json()

    def test_it_gives_each_key_its_own_integration_user(self, api_client) -> None:
        resp = _as(api_client, f.operator()).post(URL, {"name": "sync"}, format="json")

        user = User.objects.get(pk=resp.json()["user_id"])
        assert user.role == User.Role.INTEGRATION and user.is_active
        assert not user.has_usable_password() and not user.is_operator and not user.is_staff

    def test_the_secret_works_at_once(self, api_client) -> None:
        secret = _as(api_client, f.operator()).post(URL, {"name": "sync"}, format="json").json()["secret"]

        assert as_key(api_client, secret).get(PROBE).status_code == 404  # authenticated; no such request

    @pytest.mark.parametrize(("body", "field"), [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name")])
    def test_it_names_the_offending_field(self, api_client, body, field) -> None:
        resp = _as(api_client, f.operator()).post(URL, body, format="json")

        assert resp.status_code == 400 and resp["Content-Type"] == "application/problem+json"
        assert resp.json()["errors"][0]["field"] == field
        assert not IntegrationKey.objects.exists()


class TestList:
    def test_it_lists_every_key_newest_first_with_revoked_ones(self, api_client) -> None:
        old, _ = integration_key("old")
        new, _ = integration_key("new")
        _as(api_client, f.operator()).post(f"{URL}{old.pk}/revoke/")

        body = api_client.get(URL).json()

        assert body["count"] == 2
        assert [(k["name"], k["is_active"]) for k in body["results"]] == [("new", True), ("old", False)]
        assert all("secret" not in k and "secret_hash" not in k for k in body["results"])

    def test_it_shows_one_key(self, api_client) -> None:
        key, _ = integration_key()
        body = _as(api_client, f.operator()).get(f"{URL}{key.pk}/").json()
        assert (body["id"], body["prefix"], body["user_id"]) == (key.pk, key.prefix, key.user_id)
        assert api_client.get(f"{URL}{key.pk + 1000}/").status_code == 404


class TestRevoke:
    def test_a_revoked_key_is_refused_at_once(self, api_client) -> None:
        key, secret = integration_key()
        operator_token = f.token(f.operator())
        assert as_key(api_client, secret).get(PROBE).status_code == 404

        api_client.credentials(HTTP_AUTHORIZATION=f"Token {operator_token}")
        resp = api_client.post(f"{URL}{key.pk}/revoke/")

        assert resp.status_code == 200 and resp.json()["is_active"] is False and resp.json()["revoked_at"]
        refused = as_key(api_client, secret).get(PROBE)
        assert refused.status_code == 401 and refused["Content-Type"] == "application/problem+json"
        assert User.objects.get(pk=key.user_id).is_active is False

    def test_revoking_twice_changes_nothing(self, api_client) -> None:
        key, _ = integration_key()
        _as(api_client, f.operator())
        first = api_client.post(f"{URL}{key.pk}/revoke/").json()["revoked_at"]

        again = api_client.post(f"{URL}{key.pk}/revoke/")

        assert again.status_code == 200 and again.json()["revoked_at"] == first

    def test_revoking_one_key_leaves_the_others_working(self, api_client) -> None:
        revoked, _ = integration_key()
        _, secret = integration_key()
        _as(api_client, f.operator()).post(f"{URL}{revoked.pk}/revoke/")

        assert as_key(api_client, secret).get(PROBE).status_code == 404

    def test_an_unknown_key_is_a_404(self, api_client) -> None:
        assert _as(api_client, f.operator()).post(f"{URL}999999/revoke/").status_code == 404


class TestWhoMay:
    @pytest.mark.parametrize("who", ["client", "cleaner", "integration key"])
    def test_only_operators_manage_keys(self, api_client, who) -> None:
        key, secret = integration_key()
        if who == "integration key":
            as_key(api_client, secret)
        else:
            _as(api_client, f.client().user if who == "client" else f.cleaner().user)

        answers = [
            api_client.get(URL),
            api_client.post(URL, {"name": "mine"}, format="json"),
            api_client.get(f"{URL}{key.pk}/"),
            api_client.post(f"{URL}{key.pk}/revoke/"),
        ]

        assert [a.status_code for a in answers] == [403] * 4
        assert answers[0]["Content-Type"] == "application/problem+json"
        assert answers[0].json()["detail"] == "Only operators can manage integration keys."
        assert IntegrationKey.objects.get(pk=key.pk).revoked_at is None
        assert IntegrationKey.objects.count() == 1

    def test_it_needs_credentials(self, api_client) -> None:
        assert api_client.get(URL).status_code == 401
        assert api_client.post(URL, {"name": "x"}, format="json").status_code == 401
