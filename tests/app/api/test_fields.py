"""Strict input: integers as written and within a 64-bit column, no unknown fields, no lenient pagination."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest
from rest_framework import serializers

import app
from app.api.fields import DB_INT_MAX, UNKNOWN_FIELD, QueryIntegerField, StrictInput, StrictIntegerField
from tests import factories as f

EVENT = {
    "recommendation_type": "cleaner",
    "event": "viewed",
    "idempotency_key": "k",
    "occurred_at": "2026-01-01T00:00:00Z",
}


def _errors(resp) -> dict[str, str]:
    assert resp.status_code == 400, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in resp.json()["errors"]}


# The fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("5", "not a string"),
        (" 5", "not a string"),
        (5.0, "without a decimal point"),
        (1e400, "without a decimal point"),
        (True, "not true or false"),
        (None, "may not be null"),
        ([5], "Must be an integer."),
        (2**63, f"less than or equal to {DB_INT_MAX}"),
        (-(2**63) - 1, "greater than or equal to"),
    ],
)
def test_a_strict_integer_is_a_json_integer_in_range(value, why: str) -> None:
    field = StrictIntegerField()
    with pytest.raises(serializers.ValidationError, match=why):
        field.run_validation(value)
    assert field.run_validation(DB_INT_MAX) == DB_INT_MAX


@pytest.mark.parametrize("value", ["", " 5", "5 ", "+5", "-5", "5.0", "5e0", "0x5", "٥", "5\x00"])
def test_a_query_integer_is_digits_only(value: str) -> None:
    with pytest.raises(serializers.ValidationError, match="digits only"):
        QueryIntegerField().run_validation(value)


@pytest.mark.parametrize("value", ["9223372036854775808", "9" * 5000])
def test_a_query_integer_is_in_range(value: str) -> None:
    with pytest.raises(serializers.ValidationError, match=f"less than or equal to {DB_INT_MAX}"):
        QueryIntegerField().run_validation(value)
    assert QueryIntegerField().run_validation("0007") == 7


def _input_serializers() -> list[type[serializers.Serializer]]:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if "migrations" not in module.name and "management" not in module.name:
            importlib.import_module(module.name)

    def subclasses(cls: type) -> set[type]:
        return set(cls.__subclasses__()).union(*(subclasses(c) for c in cls.__subclasses__()))

    return sorted(
        (
            c
            for c in subclasses(serializers.Serializer)
            if c.__module__.startswith("app.") and c.__name__.endswith(("Input", "Query"))
        ),
        key=lambda c: c.__qualname__,
    )


def test_every_input_integer_is_strict_and_bounded() -> None:
    found = _input_serializers()
    assert len(found) >= 8, found
    loose = [
        f"{s.__qualname__}.{name}"
        for s in found
        for name, field in s().fields.items()
        if isinstance(field, serializers.IntegerField) and not isinstance(field, StrictIntegerField | QueryIntegerField)
    ]
    assert not loose, "use StrictIntegerField (bodies) or QueryIntegerField (query strings): " + ", ".join(loose)


def test_every_body_input_refuses_unknown_fields() -> None:
    bodies = [s for s in _input_serializers() if s.__name__.endswith("Input")]
    assert [s.__qualname__ for s in bodies if not issubclass(s, StrictInput)] == []


# Through the API ------------------------------------------------------------------------------


@pytest.fixture
def feedback_client(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.client().user)}")
    return api_client


def _feedback(api_client, **fields):
    body = json.dumps({"events": [{**EVENT, **fields}]})
    return api_client.generic("POST", "/api/v1/feedback/", body, content_type="application/json")


@pytest.mark.parametrize(
    "ids",
    [
        {"recommendation_id": 2**63},
        {"recommendation_id": 10**30},
        {"job_id": 2**63, "cleaner_id": 1},
        {"job_id": 1, "cleaner_id": 2**64},
    ],
)
def test_feedback_refuses_ids_beyond_64_bits_before_any_query(feedback_client, ids: dict) -> None:
    errors = _errors(_feedback(feedback_client, **ids))
    [(field, message)] = errors.items()
    assert field in {f"events[0].{name}" for name in ids}
    assert message == f"Ensure this value is less than or equal to {DB_INT_MAX}."


def test_feedback_names_an_unknown_field_of_an_event(feedback_client) -> None:
    assert _errors(_feedback(feedback_client, recommendation_id=1, colour="blue")) == {
        "events[0].colour": UNKNOWN_FIELD
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/auth/token/", {"username": "a", "password": "b", "remember_me": True}),
        ("/api/v1/webhook-endpoints/", {"url": "https://93.184.215.14/hook", "secret": "mine"}),
        ("/api/v1/models/retrain/", {"force": True, "epochs": 3}),
        ("/api/v1/feedback/", {"events": [], "dry_run": True}),
    ],
)
def test_an_unknown_body_field_is_a_400_that_names_it(api_client, url: str, body: dict) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.operator())}")
    unknown = list(body)[-1]
    assert _errors(api_client.post(url, body, format="json"))[unknown] == UNKNOWN_FIELD


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/webhook-endpoints/", "/api/v1/models/"])
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=5.0", "limit"),
        ("limit=%205", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("offset=99999999999999999999999", "offset"),
    ],
)
def test_bad_pagination_is_a_400_naming_the_parameter(api_client, url: str, query: str, param: str) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.operator())}")
    assert param in _errors(api_client.get(f"{url}?{query}"))
    assert api_client.get(f"{url}?limit=100&offset=0").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["5.0", "%205", "-5", "99999999999999999999999"])
def test_stats_refuse_a_loosely_written_number_of_days(api_client, days: str) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.operator())}")
    for url in ("/api/v1/recommendations/stats/", "/api/v1/experiments/results/"):
        assert "days" in _errors(api_client.get(f"{url}?days={days}"))
