"""`GET /metrics`: the web's Prometheus metrics, for the scraper only.

Who may read it (setting → environment variable):

- a request that presents `Authorization: Bearer <METRICS_TOKEN>` (when the token is set);
- otherwise a request straight from an address in `METRICS_ALLOWED_NETWORKS` (default: the
  loopback addresses only). A request that came through a proxy (it carries `X-Forwarded-For`
  or `Forwarded`) is never admitted by address: behind a proxy on the same host every client
  would look local.

Everyone else gets a 403. In containers, give Prometheus the token, or add the scraper's
network (e.g. `METRICS_ALLOWED_NETWORKS=127.0.0.0/8,::1/128,172.16.0.0/12`); the host name it
scrapes (e.g. `web`) must be in DJANGO_ALLOWED_HOSTS like any other.
"""

from __future__ import annotations

import hmac
from ipaddress import ip_address, ip_network

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.observability.metrics import scrape_registry


def _has_token(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected.encode())


def _from_allowed_network(request: HttpRequest) -> bool:
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        address = ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics_allowed(request: HttpRequest) -> bool:
    return _has_token(request) or _from_allowed_network(request)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise PermissionDenied  # handler403: a problem+json body
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def healthz_view(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No database, no Redis — also the HTTP floor `make bench` compares with."""
    return HttpResponse(b'{"status": "ok"}', content_type="application/json")
