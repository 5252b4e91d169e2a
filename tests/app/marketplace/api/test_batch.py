"""`POST /api/v1/marketplace/batch/`: mixed items in dependency order, per-item outcomes, Idempotency-Key."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from app.marketplace.models import CleanerProfile, IdempotencyRecord, Property
from tests.app.marketplace.ingest import builders as b
from tests.factories.integrations import as_key, integration_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/marketplace/batch/"


def wire(item) -> dict:
    out = {"type": item.type, "external_id": item.external_id, "op": str(item.op)}
    if item.data is not None:
        out["data"] = item.data
    if item.partial:
        out["partial"] = True
    return out


@pytest.fixture
def key_client(api_client):
    return as_key(api_client, integration_key()[1])


def test_it_applies_in_dependency_order_and_answers_in_input_order(key_client) -> None:
    items = [wire(i) for i in reversed(b.world())]
    resp = key_client.post(URL, {"items": items}, format="json")
    assert resp.status_code == 200, resp.content
    assert [(o["type"], o["status"]) for o in resp.json()["items"]] == [(i["type"], "created") for i in items]
    again = key_client.post(URL, {"items": items}, format="json").json()
    assert [o["status"] for o in again["items"]] == ["unchanged"] * 6 and again["counts"] == {"unchanged": 6}


def test_a_failed_item_changes_nothing_of_its_own_and_stops_nothing(key_client) -> None:
    items = [
        wire(b.cleaner()),
        wire(b.property_("p-9", client="nobody")),
        wire(b.cleaner("c-2", hourly_rate=-1)),
        {"type": "client", "external_id": "cl-1", "data": b.client().data, "colour": "red"},
        "nonsense",
        wire(b.client("cl-2")),
    ]
    out = key_client.post(URL, {"items": items}, format="json").json()["items"]
    assert [o["status"] for o in out] == ["created", "error", "error", "error", "error", "created"]
    assert out[1]["error"]["kind"] == "unknown_reference" and out[1]["error"]["errors"][0]["field"] == "client"
    assert out[2]["error"]["errors"][0]["field"] == "hourly_rate"
    assert out[3]["error"]["errors"][0]["field"] == "colour"
    assert not Property.objects.exists() and list(CleanerProfile.objects.values_list("external_id", flat=True)) == [
        "c-1"
    ]


def test_more_than_1000_items_is_a_413_that_says_so(key_client) -> None:
    resp = key_client.post(URL, {"items": [wire(b.client(f"cl-{i}")) for i in range(1001)]}, format="json")
    assert resp.status_code == 413 and "at most 1000" in resp.json()["detail"]


def test_a_body_without_items_is_a_400(key_client) -> None:
    assert key_client.post(URL, {"things": []}, format="json").status_code == 400
    assert key_client.post(URL, {"items": {}}, format="json").status_code == 400


class TestIdempotencyKey:
    def test_a_retry_answers_exactly_as_the_first_time(self, key_client) -> None:
        body = {"items": [wire(b.cleaner())]}
        first = key_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        retry = key_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.json()["items"][0]["status"] == "created"
        assert retry.content == first.content and retry.status_code == 200
        # without the key the same batch is simply unchanged
        assert key_client.post(URL, body, format="json").json()["items"][0]["status"] == "unchanged"

    def test_the_same_key_with_another_body_is_a_422(self, key_client) -> None:
        key_client.post(URL, {"items": [wire(b.cleaner())]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        resp = key_client.post(URL, {"items": [wire(b.client())]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert resp.status_code == 422 and "different body" in resp.json()["detail"]

    def test_keys_belong_to_their_owner(self, key_client, api_client) -> None:
        body = {"items": [wire(b.cleaner())]}
        key_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        from rest_framework.test import APIClient

        other = as_key(APIClient(), integration_key("other")[1])
        resp = other.post(URL, {"items": [wire(b.client())]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert resp.status_code == 200 and resp.json()["items"][0]["status"] == "created"


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_key_apply_once() -> None:
    from rest_framework.test import APIClient

    secret = integration_key()[1]
    body = {"items": [wire(b.cleaner()), wire(b.client())]}
    answers: list = []

    def send() -> None:
        try:
            answers.append(as_key(APIClient(), secret).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert [o["status"] for o in answers[0].json()["items"]] == ["created", "created"]
    assert IdempotencyRecord.objects.count() == 1


def test_a_key_expires_after_a_day(key_client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    key_client.post(URL, {"items": [wire(b.cleaner())]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    resp = key_client.post(URL, {"items": [wire(b.client())]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert resp.status_code == 200 and resp.json()["items"][0]["status"] == "created"
    assert IdempotencyRecord.objects.count() == 1


def test_items_of_the_wrong_shape_are_refused_one_by_one(key_client) -> None:
    items = [
        {"type": ["cleaner"], "external_id": "c-1", "data": {}},
        {"type": "cleaner", "external_id": ["c-1"], "data": {}},
        {"type": "cleaner", "external_id": "c-1", "op": {"x": 1}},
        {"type": "cleaner", "external_id": "c-1", "data": [1]},
        {"type": "cleaner", "external_id": "c-1", "op": "delete", "data": {}},
        {"type": "cleaner", "external_id": "c-1", "partial": "yes", "data": {}},
        wire(b.client()),
    ]
    out = key_client.post(URL, {"items": items}, format="json").json()["items"]
    assert [o["status"] for o in out] == ["error"] * 6 + ["created"]
    assert [o["error"]["errors"][0]["field"] for o in out[:6]] == ["type", "external_id", "op", "", "data", "partial"]
