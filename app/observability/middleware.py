"""Request id and request timing, for every request the web answers.

Put `RequestIdMiddleware` first in MIDDLEWARE so every response carries the id and every log
line written while answering names it; `MetricsMiddleware` right after it, so the time it
records includes the other middleware.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from app.observability import context, metrics

# A URL that matches no pattern is recorded under one name, not its path: a scan of random
# paths must not create a time series per path.
UNMATCHED = "<unmatched>"
# WhiteNoise answers static files before URL resolution: they get one name of their own.
STATIC = "<static>"


class RequestIdMiddleware:
    """Takes the client's `X-Request-ID` if it is a sane token, else makes one; echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = context.request_id_sanitize(request.headers.get(context.HEADER))
        request.request_id = rid
        token = context.request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(token)
        response[context.HEADER] = rid
        return response


class MetricsMiddleware:
    """Observes each request's duration under its route's name (`namespace:url_name`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            route = match.view_name or match.route
        else:
            route = STATIC if request.path.startswith(self.static_prefix) else UNMATCHED
        metrics.request_observe(
            route=route, method=request.method or "", status=response.status_code, seconds=time.perf_counter() - started
        )
        return response
