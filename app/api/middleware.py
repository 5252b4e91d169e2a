"""Request bodies are read whole, or refused: a view never acts on a body it did not fully get.

Django reads `Content-Length` bytes of a body and nothing else: a chunked body (no
Content-Length) reads as empty, so `POST …/recommendations/` with `{"limit": 3}` sent chunked
was answered as if no limit had been given. gunicorn decodes a chunked body into `wsgi.input`
and says so (`wsgi.input_terminated`, its input ends where the body ends), so there the body is
read here, up to DATA_UPLOAD_MAX_MEMORY_SIZE, and handed on with its length; a server that
does not say so (Django's runserver) gets a 411 asking for a Content-Length.

A body with a Content-Length is read here too, so that one shorter than announced (the client
went away: gunicorn hands over what came) is a 400, not a truncated body that may still parse,
and one too large is a 413, both as problem+json. Multipart bodies are left to Django's
streaming parser.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, UnreadablePostError

from app.api.errors import problem_response


class RequestBodyMiddleware:
    """Reads each request's body whole before any view (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._chunked(request) if "HTTP_TRANSFER_ENCODING" in request.META else self._sized(request)
        return refusal or self.get_response(request)

    def _chunked(self, request: HttpRequest) -> HttpResponse | None:
        encoding = request.META["HTTP_TRANSFER_ENCODING"].strip().lower()
        if encoding != "chunked" or not request.META.get("wsgi.input_terminated"):
            return problem_response(
                411,
                "Length Required",
                "Send the body with a Content-Length header: "
                f"this server cannot read a body sent with Transfer-Encoding: {encoding[:40]}.",
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            body = request.META["wsgi.input"].read(limit + 1)
        except OSError:  # gunicorn's NoMoreData: the connection closed inside the body
            return _unreadable()
        if len(body) > limit:
            return _too_large()
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(io.BytesIO(body), len(body))
        return None

    def _sized(self, request: HttpRequest) -> HttpResponse | None:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isascii() or not declared.isdigit():
            return problem_response(400, "Bad Request", "Content-Length must be a number of bytes.")
        if int(declared) == 0 or request.content_type == "multipart/form-data":
            return None
        try:
            body = request.body
        except RequestDataTooBig:
            return _too_large()
        except UnreadablePostError:
            return _unreadable()
        if len(body) < int(declared):
            return problem_response(
                400,
                "Bad Request",
                f"The request body ended after {len(body)} of the {declared} bytes its Content-Length announced.",
            )
        return None


def _too_large() -> HttpResponse:
    return problem_response(413, "Payload Too Large", "The request body is larger than this service accepts.")


def _unreadable() -> HttpResponse:
    return problem_response(400, "Bad Request", "The request body could not be read to its end.")
