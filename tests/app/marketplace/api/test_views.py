"""`/api/v1/marketplace/{type}/{external_id}/`: PUT, PATCH, DELETE, GET, for integration keys only."""

from __future__ import annotations

import pytest

from app.marketplace.models import CleanerProfile, CleaningJob
from tests import factories as f
from tests.app.marketplace.ingest import builders as b
from tests.factories.integrations import as_key, integration_key
from tests.support.auth import authenticate

pytestmark = pytest.mark.django_db

PLURAL = {"cleaner": "cleaners", "client": "clients", "property": "properties", "job": "jobs", "bid": "bids"}
PLURAL["review"] = "reviews"


def url(item_type: str, external_id: str) -> str:
    return f"/api/v1/marketplace/{PLURAL[item_type]}/{external_id}/"


@pytest.fixture
def key_client(api_client):
    return as_key(api_client, integration_key()[1])


def put(client, item):
    return client.put(url(item.type, item.external_id), item.data, format="json")


class TestPut:
    def test_it_creates_then_updates_then_is_unchanged(self, key_client) -> None:
        item = b.cleaner()
        first = put(key_client, item)
        assert first.status_code == 201, first.content
        assert first.json()["status"] == "created" and first.json()["data"]["hourly_rate"] == 35
        assert put(key_client, item).json()["status"] == "unchanged"
        changed = put(key_client, b.cleaner(hourly_rate=40))
        assert (changed.status_code, changed.json()["status"]) == (200, "updated")
        assert CleanerProfile.objects.get(external_id="c-1").hourly_rate == 40

    def test_it_creates_every_type(self, key_client) -> None:
        for item in b.world():
            resp = put(key_client, item)
            assert resp.status_code == 201, (item.type, resp.content)
            assert key_client.get(url(item.type, item.external_id)).json()["external_id"] == item.external_id

    def test_an_invalid_field_is_a_400_naming_it(self, key_client) -> None:
        resp = put(key_client, b.cleaner(home_lat=91))
        assert resp.status_code == 400 and resp["Content-Type"] == "application/problem+json"
        assert [e["field"] for e in resp.json()["errors"]] == ["home_lat"]
        assert not CleanerProfile.objects.exists()

    def test_an_unknown_reference_is_a_422(self, key_client) -> None:
        resp = put(key_client, b.property_(client="nobody"))
        assert resp.status_code == 422, resp.content
        assert resp.json()["errors"][0]["field"] == "client"

    def test_a_refused_transition_is_a_409_that_says_why(self, key_client) -> None:
        for item in b.world():
            put(key_client, item)
        resp = key_client.patch(url("job", "j-1"), {"status": "open_for_bids", "assigned_cleaner": None}, format="json")
        assert resp.status_code == 409, resp.content
        assert "completed" in resp.json()["detail"] and resp.json()["errors"][0]["field"] == "status"
        assert CleaningJob.objects.get(external_id="j-1").status == "completed"

    def test_a_body_that_is_not_an_object_is_a_400(self, key_client) -> None:
        resp = key_client.put(url("client", "cl-1"), [1], format="json")
        assert resp.status_code == 400, resp.content


class TestPatch:
    def test_it_changes_only_what_it_is_given(self, key_client) -> None:
        put(key_client, b.cleaner())
        resp = key_client.patch(url("cleaner", "c-1"), {"is_active": False}, format="json")
        assert (resp.status_code, resp.json()["status"]) == (200, "updated")
        assert resp.json()["data"]["is_active"] is False and resp.json()["data"]["hourly_rate"] == 35

    def test_it_is_a_404_when_absent(self, key_client) -> None:
        resp = key_client.patch(url("cleaner", "c-9"), {"is_active": False}, format="json")
        assert resp.status_code == 404 and resp["Content-Type"] == "application/problem+json"


class TestDeleteAndGet:
    def test_it_deletes_then_it_is_gone(self, key_client) -> None:
        put(key_client, b.client())
        assert key_client.delete(url("client", "cl-1")).status_code == 204
        assert key_client.get(url("client", "cl-1")).status_code == 404
        assert key_client.delete(url("client", "cl-1")).status_code == 404


class TestWho:
    @pytest.mark.parametrize("role", ["client", "cleaner", "operator"])
    def test_people_are_refused_even_operators(self, api_client, role) -> None:
        user = {"client": lambda: f.client().user, "cleaner": lambda: f.cleaner().user, "operator": f.operator}[role]()
        authenticate(api_client, user)
        for call in (
            lambda: api_client.get(url("cleaner", "c-1")),
            lambda: api_client.put(url("cleaner", "c-1"), b.cleaner().data, format="json"),
            lambda: api_client.patch(url("cleaner", "c-1"), {}, format="json"),
            lambda: api_client.delete(url("cleaner", "c-1")),
            lambda: api_client.post("/api/v1/marketplace/batch/", {"items": []}, format="json"),
        ):
            assert call().status_code == 403
        assert not CleanerProfile.objects.filter(external_id="c-1").exists()

    def test_anonymous_is_a_401(self, api_client) -> None:
        assert api_client.get(url("cleaner", "c-1")).status_code == 401
        assert api_client.put(url("cleaner", "c-1"), b.cleaner().data, format="json").status_code == 401
