"""The hostile table: bodies, headers and framing no honest client sends, against every API endpoint.

Every operation of the OpenAPI schema (so a new endpoint is in the table the day it is added),
anonymously, with a client's and an operator's token and with an integration key (the only
caller the sync API answers beyond its 401/403), gets every row of `TABLE` through
Django's test client: no answer may be a 5xx, every error must be problem+json, and no answer
carries a traceback. The rows marked `live` go to a live gunicorn too, started by
scripts/start-web.sh, because framing (chunked, truncated, oversized headers) only shows behind
the real server. There gunicorn itself refuses a few requests before Django sees them (headers
over its limits, Content-Length together with Transfer-Encoding, a Content-Length that is not
a number): those answers are gunicorn's own small HTML 400/431, told apart by the missing
X-Request-ID that every answer from Django carries.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client

from app.api.parsers import MAX_DEPTH
from app.common.redis_client import client as redis_client
from app.recommendations.models import RecommendationRequest
from app.webhooks.models import WebhookEndpoint
from tests import factories as f
from tests.factories.integrations import integration_key
from tests.support.live import http, live_web, raw

# An operation's JSON body fields -> the body to send.
BodyFor = Callable[[list[str]], bytes]


def every_field(value: object) -> BodyFor:
    """A JSON object with `value` in every field the operation reads (or in "x", for one that reads none)."""
    return lambda fields: json.dumps({name: value for name in fields or ["x"]}).encode()


def _first(fields: list[str]) -> str:
    return (fields or ["x"])[0]


def first_field(text: str) -> BodyFor:
    """A JSON object whose first field is `text`, raw JSON (what json.dumps cannot write)."""
    return lambda fields: f'{{"{_first(fields)}": {text}}}'.encode()


def raw_body(body: bytes) -> BodyFor:
    return lambda fields: body


@dataclass(frozen=True)
class Hostile:
    name: str
    body: BodyFor = raw_body(b"")
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    path_value: str | None = None  # in place of every path parameter
    # "length" (a Content-Length), "chunked", "chunked-cut" (the connection closes inside a chunk),
    # "truncated" (100 bytes fewer than announced), "bad-length" (Content-Length: abc),
    # "length-and-chunked" (both headers)
    framing: str = "length"
    live: bool = False  # also sent to the live gunicorn


KB = 1024
DEEP = 100_000
TABLE = [
    # Nesting.
    Hostile("arrays nested 100000 deep", raw_body(b"[" * DEEP + b"]" * DEEP), live=True),
    Hostile("objects nested 50000 deep", raw_body(b'{"a":' * (DEEP // 2) + b"0" + b"}" * (DEEP // 2))),
    Hostile("500000 brackets never closed", raw_body(b"[" * 500_000)),
    Hostile(f"nesting just over {MAX_DEPTH} in a field", first_field("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))),
    Hostile("quotes that never close", raw_body(b'["' + b'\\"' * 300_000)),
    # Text that is not text.
    Hostile("a lone surrogate in every field", every_field("\ud800"), live=True),
    Hostile("a lone low surrogate in every field", every_field("x\udfffy")),
    Hostile("a lone surrogate as a key", raw_body(b'{"\\udc00": 1}')),
    Hostile("a surrogate pair in every field", every_field("\U0001f600")),
    Hostile("NUL in every field", every_field("a\x00b"), live=True),
    Hostile("NUL as a key", raw_body(b'{"\\u0000": 1}')),
    Hostile("a raw NUL byte in a string", first_field('"a\x00b"')),
    Hostile("not UTF-8 at all", raw_body(b'{"x": "\xff\xfe\xed\xa0\x80"}')),
    Hostile("a UTF-8 byte order mark", raw_body(b"\xef\xbb\xbf{}")),
    # Numbers.
    Hostile("2^64 in every field", every_field(2**64), live=True),
    Hostile("2^63 in every field", every_field(2**63)),
    Hostile("-2^63-1 in every field", every_field(-(2**63) - 1)),
    Hostile("a 400-digit integer in every field", every_field(10**400)),
    Hostile("a 5000-digit integer", first_field("9" * 5000)),
    Hostile(
        "1e400 in every field",
        lambda fields: ("{" + ", ".join(f'"{n}": 1e400' for n in fields or ["x"]) + "}").encode(),
    ),
    Hostile("NaN", first_field("NaN")),
    Hostile("-Infinity", first_field("-Infinity")),
    # Sizes.
    Hostile(
        "900 KB of strings", lambda fields: every_field("x" * (900 * KB // max(1, len(fields))))(fields), live=True
    ),
    Hostile("a body over 1 MiB", every_field("x" * 1100 * KB), live=True),
    # Shapes.
    Hostile("a key repeated", lambda fields: f'{{"{_first(fields)}": 1, "{_first(fields)}": 2}}'.encode(), live=True),
    Hostile("every field an object", every_field({"$gt": ""})),
    Hostile("every field a list", every_field([1, 2])),
    Hostile("every field true", every_field(True)),
    Hostile("every field null", every_field(None)),
    Hostile("an unknown field", raw_body(b'{"is_superuser": true, "role": "operator"}')),
    Hostile("a list, not an object", raw_body(b"[1, 2, 3]")),
    Hostile("a bare string", raw_body(b'"x"')),
    Hostile("whitespace only", raw_body(b" \n\t ")),
    Hostile("JSON cut short", raw_body(b'{"x": "')),
    Hostile("an empty JSON body", raw_body(b"")),
    # Content types.
    Hostile("text/plain", raw_body(b"{}"), content_type="text/plain", live=True),
    Hostile("XML", raw_body(b"<a/>"), content_type="application/xml"),
    Hostile("multipart without a boundary", raw_body(b"--x\r\n\r\n"), content_type="multipart/form-data"),
    Hostile(
        "multipart, broken",
        raw_body(b'--zz\r\nContent-Disposition: form-data; name="username"\r\n\r\n\xed\xa0\x80'),
        content_type="multipart/form-data; boundary=zz",
    ),
    Hostile(
        "a form with NUL and bad UTF-8",
        raw_body(b"username=%00&password=%ED%A0%80&username=x"),
        content_type="application/x-www-form-urlencoded",
    ),
    Hostile(
        "a form of 5000 fields",
        raw_body("&".join(f"f{i}=1" for i in range(5000)).encode()),
        content_type="application/x-www-form-urlencoded",
    ),
    Hostile("JSON said to be UTF-16", raw_body(b'{"x": 1}'), content_type="application/json; charset=utf-16"),
    Hostile("JSON in an unknown charset", raw_body(b'{"x": 1}'), content_type="application/json; charset=x-klingon"),
    Hostile("a garbage Content-Type", raw_body(b"{}"), content_type=";;;=\x7f/"),
    Hostile("no Content-Type", raw_body(b"{}"), content_type=None),
    # Framing.
    Hostile("chunked", raw_body(b'{"limit": 3}'), framing="chunked", live=True),
    Hostile("chunked, cut inside a chunk", raw_body(b'{"limit": 3}'), framing="chunked-cut", live=True),
    Hostile("shorter than its Content-Length", raw_body(b'{"limit": 3}'), framing="truncated", live=True),
    Hostile("a Content-Length that is not a number", raw_body(b"{}"), framing="bad-length", live=True),
    Hostile("Content-Length and Transfer-Encoding", raw_body(b'{"limit": 3}'), framing="length-and-chunked", live=True),
    # Headers.
    Hostile("a Host not allowed", headers={"Host": "evil.example"}, live=True),
    Hostile("a Host with a silly port", headers={"Host": "127.0.0.1:99999999999"}),
    Hostile("a Host that is not one", headers={"Host": "[::1"}),
    Hostile("an 8 KB header", headers={"X-Padding": "a" * 8 * KB}, live=True),
    Hostile("300 headers", headers={f"X-H{i}": "a" for i in range(300)}, live=True),
    Hostile("a 100 KB Authorization", headers={"Authorization": "Token " + "a" * 100 * KB}),
    Hostile("an Authorization of Latin-1 bytes", headers={"Authorization": "Token \xff\xfe\xe9" + "a" * 37}, live=True),
    Hostile("a token with NUL", headers={"Authorization": "Token abc\x00def"}),
    Hostile("Basic credentials", headers={"Authorization": "Basic " + "YWRtaW46cHc="}),
    Hostile("a 100 KB X-Request-ID", headers={"X-Request-ID": "r" * 100 * KB}),
    Hostile("a 100 KB Cookie", headers={"Cookie": "sessionid=" + "s" * 100 * KB + "; csrftoken=x"}),
    Hostile("a 100 KB Accept", headers={"Accept": "application/json;q=0.5, " * 4000}),
    Hostile("Accept: HTML only", headers={"Accept": "text/html"}),
    Hostile("a 100 KB X-Forwarded-For", headers={"X-Forwarded-For": "1.2.3.4, " * 12000}),
    # Query strings.
    Hostile(
        "huge numbers in the query",
        query="limit=99999999999999999999&offset=-1&days=1e400&min_trials=" + "9" * 5000 + "&wait=nan",
    ),
    Hostile(
        "NUL and bad UTF-8 in the query",
        query="limit=%00&offset=%ED%A0%80&days=%00&metric=%00&since=%00&wait=%00",
        live=True,
    ),
    Hostile("a parameter repeated", query="limit=1&limit=abc&days=1&days=-1"),
    Hostile("5000 query parameters", query="&".join(f"p{i}=1" for i in range(5000))),
    Hostile("an unknown format", query="format=xml"),
    # Path parameters.
    Hostile("2^64 as every path value", path_value=str(2**64), live=True),
    Hostile("NUL as every path value", path_value="%00", live=True),
    Hostile("bad UTF-8 as every path value", path_value="%ED%A0%80"),
    Hostile("5000 digits as every path value", path_value="9" * 5000),
]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with {name} placeholders
    fields: list[str]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _operations(schema: dict) -> list[Operation]:
    def fields(operation: dict) -> list[str]:
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if not content:
            return []
        body = content["schema"]
        if "$ref" in body:  # a serializer's component; the sync API's shapes are inline
            body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
        return list(body.get("properties", {}))

    return [
        Operation(method.upper(), path, fields(op))
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.fixture
def world(db):
    """Rows for the path parameters to name, the tokens to send, and a retrain already running."""
    from app.recommendations.registry import RETRAIN_LOCK_KEY

    job = f.job()
    cleaner = f.cleaner()
    operator = f.operator()
    endpoint = WebhookEndpoint.objects.create(owner=operator, url="https://93.184.215.14/hook")
    request = RecommendationRequest.objects.create(kind="cleaners_for_job", requested_by=operator, job=job)
    # A retrain "running": `models/retrain/` answers 409 instead of queueing training after training.
    redis_client().set(RETRAIN_LOCK_KEY, "hostile-table", ex=600)
    values = {
        "job_id": job.pk,
        "cleaner_id": cleaner.pk,
        "endpoint_id": endpoint.pk,
        "request_id": request.pk,
        "version": "0.0-none",
    }
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    yield {
        "operations": _operations(schema),
        "values": values,
        # Each an Authorization header's value as sent.
        "tokens": {
            "anonymous": None,
            "client": f"Token {f.token(job.client.user)}",
            "operator": f"Token {f.token(operator)}",
            "integration key": f"Bearer {integration_key()[1]}",
        },
    }
    redis_client().delete(RETRAIN_LOCK_KEY)


def _path(operation: Operation, values: dict, case: Hostile) -> str:
    def value(match: re.Match) -> str:
        return case.path_value if case.path_value is not None else str(values.get(match[1], "1"))

    path = re.sub(r"\{(\w+)\}", value, operation.path)
    return f"{path}?{case.query}" if case.query else path


def _chunked(body: bytes) -> bytes:
    return (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"


class _CutShort(io.BytesIO):
    def read(self, size: int = -1) -> bytes:
        raise OSError("no more data")  # gunicorn's NoMoreData, when the client goes away inside a chunk


def _through_the_test_client(client: Client, operation: Operation, case: Hostile, path: str, token: str | None):
    body = case.body(operation.fields)
    environ: dict[str, object] = {}
    for name, value in case.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    if token and "Authorization" not in case.headers:
        environ["HTTP_AUTHORIZATION"] = token
    if case.content_type is not None:
        environ["CONTENT_TYPE"] = case.content_type
    if case.framing in ("chunked", "chunked-cut", "length-and-chunked"):
        # Django's test client is not gunicorn: it does not decode chunks (the middleware answers 411).
        environ.update(
            HTTP_TRANSFER_ENCODING="chunked",
            CONTENT_LENGTH="" if case.framing != "length-and-chunked" else str(len(body)),
        )
        environ["wsgi.input"] = _CutShort() if case.framing == "chunked-cut" else io.BytesIO(_chunked(body))
    else:
        length = {"truncated": str(len(body) + 100), "bad-length": "abc"}.get(case.framing, str(len(body)))
        environ.update(CONTENT_LENGTH=length, **{"wsgi.input": io.BytesIO(body)})
    return client.generic(operation.method, path, b"", **environ)


def _bad_answer(status: int, content_type: str, body: bytes) -> str | None:
    """Why an answer is wrong, or None."""
    if status >= 500:
        return f"{status}: {body[:200]!r}"
    if b"Traceback" in body:
        return f"a traceback in a {status}"
    if status >= 400:
        if content_type != "application/problem+json":
            return f"{status} as {content_type}: {body[:120]!r}"
        try:
            problem = json.loads(body)
        except ValueError:
            return f"{status}: not JSON: {body[:120]!r}"
        if problem.get("status") != status or not problem.get("title") or "detail" not in problem:
            return f"{status}: not a problem: {problem}"
    return None


@pytest.mark.parametrize("case", TABLE, ids=[case.name for case in TABLE])
def test_no_hostile_request_gets_a_5xx_or_an_error_outside_the_problem_shape(world, case: Hostile) -> None:
    client = Client(raise_request_exception=False)
    operations = world["operations"]
    assert len(operations) >= 15, [str(op) for op in operations]
    wrong = []
    for operation in operations:
        for who, token in world["tokens"].items():
            path = _path(operation, world["values"], case)
            resp = _through_the_test_client(client, operation, case, path, token)
            why = _bad_answer(resp.status_code, resp.get("Content-Type", ""), resp.content)
            if why:
                wrong.append(f"{operation} as {who}: {why}")
    assert not wrong, "\n".join(wrong)


# Behind gunicorn -----------------------------------------------------------------------------

LIVE = [case for case in TABLE if case.live]


def _raw_request(operation: Operation, case: Hostile, path: str, token: str | None) -> tuple[bytes, bool]:
    """The request as bytes on the wire, and whether to close our side after sending it."""
    body = case.body(operation.fields)
    headers = {"Host": "127.0.0.1", "Connection": "close", **case.headers}
    if token and "Authorization" not in case.headers:
        headers["Authorization"] = token
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    half_close = False
    if case.framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        body = _chunked(body)
    elif case.framing == "chunked-cut":
        headers["Transfer-Encoding"] = "chunked"
        body, half_close = f"{len(body) + 50:x}\r\n".encode() + body, True
    elif case.framing == "length-and-chunked":
        headers.update({"Transfer-Encoding": "chunked", "Content-Length": str(len(body))})
        body = _chunked(body)
    elif case.framing == "truncated":
        headers["Content-Length"], half_close = str(len(body) + 100), True
    elif case.framing == "bad-length":
        headers["Content-Length"] = "abc"
    else:
        headers["Content-Length"] = str(len(body))
    head = f"{operation.method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("latin-1") + body, half_close


@pytest.mark.slow
def test_behind_gunicorn_no_hostile_request_gets_a_5xx(worker_env, transactional_db, tmp_path) -> None:
    job = f.job()
    operator = f.operator()
    values = {
        "job_id": job.pk,
        "cleaner_id": f.cleaner().pk,
        "request_id": uuid.uuid4(),
        "version": "0.0-none",
        "endpoint_id": WebhookEndpoint.objects.create(owner=operator, url="https://93.184.215.14/hook").pk,
    }
    tokens = {
        "anonymous": None,
        "operator": f"Token {f.token(operator)}",
        "integration key": f"Bearer {integration_key()[1]}",
    }
    from app.recommendations.registry import RETRAIN_LOCK_KEY

    redis_client().set(RETRAIN_LOCK_KEY, "hostile-table", ex=600)
    operations = _operations(Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json())
    wrong, by_gunicorn = [], set()
    try:
        with live_web(worker_env, tmp_path) as web:
            for case in LIVE:
                for operation in operations:
                    for who, token in tokens.items():
                        request, half_close = _raw_request(operation, case, _path(operation, values, case), token)
                        status, headers, body = raw(web.port, request, half_close=half_close)
                        if "x-request-id" not in headers:  # gunicorn's own refusal, before Django
                            by_gunicorn.add(case.name)
                            if status not in (400, 431):
                                wrong.append(f"{case.name}: {operation} as {who}: gunicorn answered {status}")
                            continue
                        why = _bad_answer(status, headers.get("content-type", ""), body)
                        if why:
                            wrong.append(f"{case.name}: {operation} as {who}: {why}")
            output = web.output()
    finally:
        redis_client().delete(RETRAIN_LOCK_KEY)
    assert not wrong, "\n".join(wrong)
    # Only framing and header sizes are gunicorn's to refuse; everything else reached Django.
    assert by_gunicorn <= {
        "an 8 KB header",
        "300 headers",
        "a Content-Length that is not a number",
        "Content-Length and Transfer-Encoding",
    }, by_gunicorn
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.slow
def test_behind_gunicorn_a_chunked_body_is_read(worker_env, transactional_db, tmp_path) -> None:
    job = f.job()
    token = f.token(job.client.user)
    body = b'{"limit": 3}'
    request = (
        f"POST /api/v1/jobs/{job.pk}/recommendations/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Token {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with live_web(worker_env, tmp_path) as web:
        status, _, answer = raw(web.port, request.encode() + _chunked(body))
        short, _, _ = raw(
            web.port,
            http(
                "POST",
                f"/api/v1/jobs/{job.pk}/recommendations/",
                body=body,
                headers={
                    "Authorization": f"Token {token}",
                    "Content-Type": "application/json",
                    "Content-Length": "200",
                },
            ).replace(b"Content-Length: 12\r\n", b""),
            half_close=True,
        )
    assert status == 202, answer
    assert RecommendationRequest.objects.get(pk=json.loads(answer)["id"]).limit == 3  # not the default 10
    assert short == 400
