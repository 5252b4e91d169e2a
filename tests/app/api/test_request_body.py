"""A body is read whole or refused (app/api/middleware.py): chunked, truncated, oversized, mislabelled.

These go through Django's test client, with `wsgi.input` set as gunicorn sets it where that
matters; tests/test_hostile.py sends the same bodies to a live gunicorn.
"""

from __future__ import annotations

import io

import pytest

from app.recommendations.models import RecommendationRequest
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def job_url(api_client):
    job = f.job()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {f.token(job.client.user)}")
    return f"/api/v1/jobs/{job.pk}/recommendations/"


def _send(api_client, url: str, body: bytes, **environ):
    """POST `body` as `wsgi.input`, with the environ a server would give it (CONTENT_LENGTH included, or not)."""
    environ.setdefault("CONTENT_LENGTH", str(len(body)))
    return api_client.generic(
        "POST", url, b"", content_type="application/json", **{"wsgi.input": io.BytesIO(body), **environ}
    )


def _problem(resp, status: int) -> str:
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    return resp.json()["detail"]


def test_it_reads_a_chunked_body_that_the_server_decoded(api_client, job_url) -> None:
    # gunicorn: the body decoded in wsgi.input, no Content-Length, and wsgi.input_terminated.
    resp = _send(
        api_client,
        job_url,
        b'{"limit": 3}',
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input_terminated": True},
    )

    assert resp.status_code == 202, resp.content
    assert RecommendationRequest.objects.get(pk=resp.json()["id"]).limit == 3


def test_it_asks_for_a_length_when_the_server_cannot_decode_chunks(api_client, job_url) -> None:
    resp = _send(
        api_client, job_url, b'c\r\n{"limit": 3}\r\n0\r\n\r\n', CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked"
    )

    assert "Content-Length" in _problem(resp, 411)
    assert not RecommendationRequest.objects.exists()  # never acted on as an empty body


def test_it_refuses_other_transfer_encodings(api_client, job_url) -> None:
    resp = _send(
        api_client,
        job_url,
        b'{"limit": 3}',
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="gzip, chunked",
        **{"wsgi.input_terminated": True},
    )
    _problem(resp, 411)


def test_a_chunked_body_over_the_limit_is_a_413(api_client, job_url, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    resp = _send(
        api_client,
        job_url,
        b'{"limit": 3, "mode": "' + b"x" * 200 + b'"}',
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input_terminated": True},
    )
    _problem(resp, 413)


def test_a_chunked_body_cut_short_is_a_400(api_client, job_url) -> None:
    class CutShort(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            raise OSError("no more data")  # what gunicorn raises when the connection closes mid-chunk

    resp = api_client.generic(
        "POST",
        job_url,
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": CutShort(), "wsgi.input_terminated": True},
    )
    _problem(resp, 400)


def test_a_body_shorter_than_its_content_length_is_a_400(api_client, job_url) -> None:
    # gunicorn hands over what came before the client closed its side; it parses as JSON.
    resp = _send(api_client, job_url, b'{"limit": 3}', CONTENT_LENGTH="100")

    assert _problem(resp, 400) == "The request body ended after 12 of the 100 bytes its Content-Length announced."
    assert not RecommendationRequest.objects.exists()


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "١٢"])
def test_a_content_length_that_is_not_a_number_is_a_400(api_client, job_url, length: str) -> None:
    _problem(_send(api_client, job_url, b'{"limit": 3}', CONTENT_LENGTH=length), 400)


def test_a_declared_length_over_the_limit_is_a_413_unread(api_client, job_url, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    _problem(_send(api_client, job_url, b"{}", CONTENT_LENGTH="101"), 413)


def test_a_whole_body_is_read_as_before(api_client, job_url) -> None:
    resp = _send(api_client, job_url, b'{"limit": 4}')
    assert resp.status_code == 202
    assert RecommendationRequest.objects.get(pk=resp.json()["id"]).limit == 4
