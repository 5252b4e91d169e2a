"""The webhook endpoint API and the callback secret, for every role."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks import Webhook

from app.accounts.models import User
from app.webhooks.models import WebhookEndpoint
from app.webhooks.services import MAX_ENDPOINTS_PER_ACCOUNT
from tests import factories as f
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/in"
LIST = "/api/v1/webhook-endpoints/"


@pytest.fixture(autouse=True)
def _public_dns(fake_dns) -> None:
    fake_dns.table["hooks.example.com"] = ["93.184.216.34"]


def _endpoint(owner: User, url: str = URL) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(owner=owner, url=url)


class TestCreate:
    @pytest.mark.parametrize("role", [User.Role.CLIENT, User.Role.CLEANER, User.Role.OPERATOR])
    def test_it_creates_an_endpoint_and_shows_the_secret_once(self, api_client, role: str) -> None:
        user = f.user(role)
        resp = authenticate(api_client, user).post(LIST, {"url": URL, "description": "orders"}, format="json")

        assert resp.status_code == 201, resp.content
        body = resp.json()
        assert body["url"] == URL and body["description"] == "orders" and body["is_active"] is True
        assert body["owner_id"] == user.pk
        assert resp["Location"].endswith(f"{LIST}{body['id']}/")
        secret = body["secret"]
        assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
        Webhook(secret)  # a secret the Standard Webhooks library accepts
        assert "secret" not in api_client.get(resp["Location"]).json()
        assert all("secret" not in e for e in api_client.get(LIST).json()["results"])

    def test_it_gives_every_endpoint_its_own_secret(self, api_client) -> None:
        client = authenticate(api_client, f.user())
        secrets = {client.post(LIST, {"url": URL}, format="json").json()["secret"] for _ in range(3)}
        assert len(secrets) == 3

    def test_it_caps_the_endpoints_per_account(self, api_client) -> None:
        user = f.user()
        for _ in range(MAX_ENDPOINTS_PER_ACCOUNT):
            _endpoint(user)
        _endpoint(f.user())  # someone else's do not count

        resp = authenticate(api_client, user).post(LIST, {"url": URL}, format="json")

        assert resp.status_code == 400
        assert resp["Content-Type"] == "application/problem+json"
        assert resp.json()["detail"] == (
            f"An account can register at most {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints; "
            "delete one before adding another."
        )
        assert WebhookEndpoint.objects.filter(owner=user).count() == MAX_ENDPOINTS_PER_ACCOUNT

    @pytest.mark.parametrize(
        ("data", "field"),
        [({}, "url"), ({"url": "not a url"}, "url"), ({"url": URL, "description": "x" * 201}, "description")],
    )
    def test_it_answers_invalid_input_with_a_problem(self, api_client, data: dict, field: str) -> None:
        resp = authenticate(api_client, f.user()).post(LIST, data, format="json")
        assert resp.status_code == 400
        assert resp["Content-Type"] == "application/problem+json"
        body = resp.json()
        assert body["status"] == 400 and body["errors"][0]["field"] == field

    def test_it_requires_a_token(self, api_client) -> None:
        resp = api_client.post(LIST, {"url": URL}, format="json")
        assert resp.status_code == 401
        assert resp["Content-Type"] == "application/problem+json"


class TestList:
    def test_it_lists_only_your_own_endpoints(self, api_client) -> None:
        me, other = f.user(), f.user(User.Role.CLEANER)
        mine = [_endpoint(me).pk for _ in range(2)]
        _endpoint(other)

        body = authenticate(api_client, me).get(LIST).json()

        assert body["count"] == 2
        assert sorted(e["id"] for e in body["results"]) == sorted(mine)

    def test_it_paginates(self, api_client) -> None:
        me = f.user()
        ids = [_endpoint(me).pk for _ in range(3)]
        body = authenticate(api_client, me).get(LIST, {"limit": 2}).json()
        assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
        assert [e["id"] for e in body["results"]] == ids[::-1][:2]  # newest first

    def test_it_lists_every_endpoint_for_operators(self, api_client) -> None:
        _endpoint(f.user())
        _endpoint(f.user(User.Role.CLEANER))
        body = authenticate(api_client, f.operator()).get(LIST).json()
        assert body["count"] == 2
        assert all("secret" not in e for e in body["results"])


class TestDetail:
    def test_it_shows_your_endpoint_without_its_secret(self, api_client) -> None:
        me = f.user()
        ep = _endpoint(me)
        body = authenticate(api_client, me).get(f"{LIST}{ep.pk}/").json()
        assert body["id"] == ep.pk and body["url"] == URL and "secret" not in body

    def test_it_hides_another_accounts_endpoint(self, api_client) -> None:
        theirs = _endpoint(f.user())
        client = authenticate(api_client, f.user())
        for resp in (
            client.get(f"{LIST}{theirs.pk}/"),
            client.delete(f"{LIST}{theirs.pk}/"),
            client.get(f"{LIST}999999/"),
        ):
            assert resp.status_code == 404
            assert resp["Content-Type"] == "application/problem+json"
            assert resp.json() == {
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "No such resource, or it is not yours.",
            }
        assert WebhookEndpoint.objects.filter(pk=theirs.pk).exists()

    def test_it_deletes_your_endpoint(self, api_client) -> None:
        me = f.user(User.Role.CLEANER)
        ep = _endpoint(me)
        resp = authenticate(api_client, me).delete(f"{LIST}{ep.pk}/")
        assert resp.status_code == 204
        assert not WebhookEndpoint.objects.filter(pk=ep.pk).exists()
        assert api_client.get(f"{LIST}{ep.pk}/").status_code == 404

    def test_it_lets_operators_see_and_delete_any_endpoint(self, api_client) -> None:
        ep = _endpoint(f.user())
        client = authenticate(api_client, f.operator())
        assert client.get(f"{LIST}{ep.pk}/").status_code == 200
        assert client.delete(f"{LIST}{ep.pk}/").status_code == 204
        assert not WebhookEndpoint.objects.filter(pk=ep.pk).exists()


class TestCallbackSecret:
    def test_it_creates_the_callback_secret_on_first_use_and_keeps_it(self, api_client) -> None:
        client = authenticate(api_client, f.user())
        first = client.get("/api/v1/webhook-callback-secret/").json()
        assert first["secret"].startswith("whsec_") and first["rotated_at"] is None
        assert client.get("/api/v1/webhook-callback-secret/").json()["secret"] == first["secret"]

    def test_it_rotates_the_callback_secret(self, api_client) -> None:
        client = authenticate(api_client, f.user())
        old = client.get("/api/v1/webhook-callback-secret/").json()["secret"]
        rotated = client.post("/api/v1/webhook-callback-secret/").json()
        assert rotated["secret"] != old and rotated["rotated_at"]
        assert client.get("/api/v1/webhook-callback-secret/").json()["secret"] == rotated["secret"]

    def test_it_gives_each_account_its_own_callback_secret(self, api_client) -> None:
        a = authenticate(api_client, f.user()).get("/api/v1/webhook-callback-secret/").json()["secret"]
        b = authenticate(api_client, f.user(User.Role.CLEANER)).get("/api/v1/webhook-callback-secret/").json()["secret"]
        assert a != b

    def test_it_requires_a_token(self, api_client) -> None:
        assert api_client.get("/api/v1/webhook-callback-secret/").status_code == 401
