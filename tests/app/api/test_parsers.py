"""The API's JSON parser: deep nesting, lone surrogates, repeated keys and NaN are a 400, never a 500."""

from __future__ import annotations

import json
import time

import pytest

from app.api.parsers import MAX_DEPTH, BodyRefused, json_text_load
from tests import factories as f

LOGIN = "/api/v1/auth/token/"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _post(api_client, url: str, body: bytes | str):
    if isinstance(body, str):
        body = body.encode()
    return api_client.generic("POST", url, body, content_type="application/json")


def _problem(resp, status: int = 400) -> dict:
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    return resp.json()


# The function ---------------------------------------------------------------------------------


def test_it_reads_nesting_up_to_the_limit() -> None:
    assert json_text_load(_nested(MAX_DEPTH)) == json.loads(_nested(MAX_DEPTH))
    assert json_text_load('{"a": ' * MAX_DEPTH + "1" + "}" * MAX_DEPTH)


@pytest.mark.parametrize("text", [_nested(MAX_DEPTH + 1), _nested(100_000), "[" * 100_000, '{"a": ' * 5000 + "1"])
def test_it_refuses_deeper_nesting_before_json_reads_it(text: str) -> None:
    with pytest.raises(BodyRefused, match=f"nested deeper than {MAX_DEPTH} levels"):
        json_text_load(text)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 1000, "b": ["{" * 1000, '\\"[[[['], "c": "\\"})
    assert json_text_load(text) == json.loads(text)


@pytest.mark.parametrize("text", ['["' + '\\"' * 300_000, "[" + '"[' * 300_000, '"\\' * 300_000])
def test_its_scan_reads_each_character_once(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError):
        json_text_load(text)
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"\\ud800"', None),
        ('{"mode": "\\ud800"}', "mode"),
        ('{"events": [{"event": "viewed"}, {"event": "x\\uDFFFy"}]}', "events[1].event"),
        ('{"events": [{"\\ud800": 1}]}', "events[0]"),
        ('{"a": {"b": ["ok", "\\udbff"]}}', "a.b[1]"),
    ],
)
def test_it_refuses_a_lone_surrogate_and_says_where(text: str, field: str | None) -> None:
    with pytest.raises(BodyRefused, match="lone UTF-16 surrogate") as refused:
        json_text_load(text)
    assert refused.value.field == field


def test_it_reads_a_surrogate_pair_as_the_character_it_encodes() -> None:
    assert json_text_load('{"mode": "\\ud83d\\ude00"}') == {"mode": "\U0001f600"}


@pytest.mark.parametrize(
    "text", ['{"limit": 1, "limit": 2}', '[{"a": 1, "b": 2, "a": 3}]', '{"\\ud800": 1, "\\ud800": 2}']
)
def test_it_refuses_a_repeated_key(text: str) -> None:
    with pytest.raises(BodyRefused, match="appears more than once"):
        json_text_load(text)


@pytest.mark.parametrize("text", ["NaN", '{"limit": Infinity}', "[-Infinity]"])
def test_it_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(BodyRefused, match="is not a JSON value"):
        json_text_load(text)


# Through the API ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_anonymous_login_refuses_deep_nesting(api_client) -> None:
    body = _problem(_post(api_client, LOGIN, _nested(50_000)))
    assert body["detail"] == f"The JSON body is nested deeper than {MAX_DEPTH} levels."


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/feedback/", "/api/v1/webhook-endpoints/", "/api/v1/models/retrain/"])
def test_every_json_endpoint_refuses_deep_nesting(api_client, path: str) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.operator())}")
    _problem(_post(api_client, path, '{"events": ' + _nested(5000) + "}"))


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["recommendation_type", "event"])
def test_feedback_refuses_a_lone_surrogate_in_a_choice_naming_it(api_client, field: str) -> None:
    event = {
        "recommendation_type": "cleaner",
        "recommendation_id": 1,
        "event": "viewed",
        "idempotency_key": "k",
        "occurred_at": "2026-01-01T00:00:00Z",
        field: "PLACEHOLDER",
    }
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(f.client().user)}")

    body = _problem(
        _post(api_client, "/api/v1/feedback/", json.dumps({"events": [event]}).replace("PLACEHOLDER", "\\ud800"))
    )

    assert [e["field"] for e in body["errors"]] == [f"events[0].{field}"]


@pytest.mark.django_db
def test_a_recommendation_request_refuses_a_lone_surrogate_in_its_mode(api_client) -> None:
    job = f.job()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(job.client.user)}")

    body = _problem(_post(api_client, f"/api/v1/jobs/{job.pk}/recommendations/", '{"mode": "\\ud800"}'))

    assert body["errors"][0]["field"] == "mode"


@pytest.mark.django_db
def test_the_login_refuses_a_repeated_key(api_client) -> None:
    body = _problem(_post(api_client, LOGIN, '{"username": "a", "password": "b", "username": "c"}'))
    assert body["detail"] == 'The key "username" appears more than once in one object.'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "query"),
    [
        ("&".join(f"f{i}=1" for i in range(5000)), ""),
        ("username=a&password=b", "&".join(f"q{i}=1" for i in range(5000))),
    ],
)
def test_too_many_fields_is_a_400_not_a_500(api_client, body: str, query: str) -> None:
    resp = api_client.generic("POST", f"{LOGIN}?{query}", body, content_type="application/x-www-form-urlencoded")
    assert _problem(resp)["detail"] == "More than 1000 fields or parameters."
